use std::process::ExitCode;

use roster::config::{Config, APP_NAME};
use roster::storage::MemoryStore;
use roster::service::register;

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
    let mut store = MemoryStore::new();
    match register(&mut store, &config, name, email) {
        Ok(user) => {
            println!("registered {} as #{}", user.name, user.id);
            ExitCode::SUCCESS
        }
        Err(err) => {
            eprintln!("error: {err}");
            ExitCode::FAILURE
        }
    }
}
