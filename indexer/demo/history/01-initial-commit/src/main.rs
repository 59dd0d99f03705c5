fn main() {
    println!("roster {}", env!("CARGO_PKG_VERSION"));
}
