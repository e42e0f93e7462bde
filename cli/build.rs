// The web app's built files are embedded (src/web.rs): rebuild when any of them changes,
// including files added or removed.
fn main() {
    println!("cargo:rerun-if-changed=../web/dist");
}
