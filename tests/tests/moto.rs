//! The mission end to end on the production adapters: S3 and DynamoDB through moto's server
//! with the real AWS SDK clients.

use medimint_e2e::{run_flow, runtime, Adapters};
use medimint_testkit::{MotoServer, ACCESS_KEY_ID, REGION, SECRET_ACCESS_KEY};

#[test]
fn mission_on_s3_and_dynamodb() {
    let moto = MotoServer::start().expect("moto's server (pip install 'moto[server]')");
    // The adapters read credentials the way they do on AWS: from the environment.
    std::env::set_var("AWS_ACCESS_KEY_ID", ACCESS_KEY_ID);
    std::env::set_var("AWS_SECRET_ACCESS_KEY", SECRET_ACCESS_KEY);
    std::env::set_var("AWS_REGION", REGION);
    let devnet = medimint_devnet::Devnet::start(medimint_devnet::Config::default()).unwrap();
    runtime().block_on(run_flow(
        Adapters::Aws {
            endpoint: moto.endpoint(),
        },
        devnet.rpc_url(),
    ));
}
