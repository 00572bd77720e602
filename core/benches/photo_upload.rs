//! Photo upload benchmark (issue 4). Filled in with the upload phase; see the module docs there.
fn main() {
    println!("photo_upload: not measured yet");
}
