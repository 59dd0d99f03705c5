use std::process::ExitCode;

use roster::config::{Config, APP_NAME};
use roster::db::{MemoryDb, Store};
use roster::model::User;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let config = Config::from_env();
    let (name, email) = match args.as_slice() {
        [name, email] => (name.as_str(), email.as_str()),
        _ => {
            eprintln!("usage: {APP_NAME} NAME EMAIL");
            return ExitCode::from(2);
        }
    };
    let mut store = MemoryDb::new();
    match User::new(1, name, email).and_then(|user| store.put(user)) {
        Ok(()) => {
            println!("{APP_NAME} listening on port {}", config.port);
            ExitCode::SUCCESS
        }
        Err(err) => {
            eprintln!("error: {err}");
            ExitCode::FAILURE
        }
    }
}
