fn main() {
    eprintln!("hvrouter: the dataplane binary is not built yet (see README)");
    std::process::exit(2);
}
