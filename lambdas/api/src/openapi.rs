//! The OpenAPI 3.1 document, generated from the handlers' annotations. `docs/openapi.json`
//! is this document, checked in; a test fails when they differ.

use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::routes::{
    account, authorizations, email, emergency, erasure, explorer, issuers, keys, links, releases,
    requests, studies, system, wallet,
};

/// The API's document.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "MediMint API",
        description = "Patients own their imaging studies. Sign in with a Stellar wallet (SEP-10) or by email code (+ TOTP); every error is RFC 9457 problem+json with a stable `type` (`urn:medimint:problem:<slug>`). See docs/api.md.",
        license(name = "Apache-2.0", identifier = "Apache-2.0"),
    ),
    paths(
        wallet::stellar_toml,
        wallet::challenge,
        wallet::token,
        email::send_code,
        email::verify_code,
        account::refresh,
        account::logout,
        account::logout_everywhere,
        account::me,
        account::totp_enroll,
        account::totp_confirm,
        account::totp_remove,
        system::health,
        system::openapi,
        studies::list_studies,
        studies::get_study,
        studies::consent,
        studies::access,
        studies::share,
        studies::revoke,
        studies::history,
        studies::files,
        studies::file,
        studies::verify,
        erasure::rekey,
        erasure::erase,
        keys::study_key,
        links::create,
        links::list,
        links::revoke,
        links::open,
        authorizations::submit,
        keys::object,
        issuers::list_issuers,
        issuers::add,
        issuers::suspend,
        issuers::reinstate,
        issuers::remove,
        explorer::totals,
        explorer::days,
        explorer::issuers,
        explorer::token,
        releases::start,
        releases::list,
        releases::get,
        releases::uploads,
        releases::complete,
        releases::upload,
        requests::create,
        requests::list,
        requests::get_one,
        requests::open,
        requests::files,
        requests::complete,
        emergency::open,
        emergency::review,
        emergency::end,
    ),
    components(schemas(crate::error::Problem)),
    modifiers(&BearerAuth),
    tags(
        (name = "sign-in", description = "SEP-1, SEP-10 and email sign-in"),
        (name = "session", description = "refresh and sign-out"),
        (name = "account", description = "the signed-in account"),
        (name = "system", description = "health and this document"),
        (name = "studies", description = "the caller's studies: consent, sharing, history, files"),
        (name = "issuers", description = "the issuer registry (admin)"),
        (name = "explorer", description = "the public explorer: counts, issuers, token timelines (no sign-in)"),
        (name = "share-links", description = "share links: a study shown to someone without an account, with a passcode (docs/share-links.md)"),
        (name = "releases", description = "an issuer's releases: the manifest, upload URLs, completion, state"),
        (name = "records-requests", description = "an issuer asks an institution without an account for a patient's records (docs/records-requests.md)"),
        (name = "emergency", description = "emergency access (break-glass): an issuer opens a study without consent; the patient and the admin review and end it"),
    )
)]
pub struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .build(),
            ),
        );
    }
}

/// The document as pretty JSON with a final newline (the form checked in).
pub fn document_json() -> String {
    let mut text = ApiDoc::openapi()
        .to_pretty_json()
        .expect("the document serializes");
    text.push('\n');
    text
}
