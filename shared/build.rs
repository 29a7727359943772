//! Rebuilds the crate when a migration is added or changed: `sqlx::migrate!` embeds the migration folders at compile
//! time, and cargo does not otherwise know that they are inputs (sqlx's documentation asks for this).
fn main() {
    println!("cargo:rerun-if-changed=migrations");
}
