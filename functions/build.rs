//! Rebuilds the binary when the embedded dashboard changes. `include_dir!` tracks the files it embedded, but not
//! the folder: a rebuild of `web/dist` writes new content-hashed names, which only this directory watch notices.

fn main() {
    println!("cargo:rerun-if-changed=../web/dist");
    println!("cargo:rerun-if-changed=azure");
}
