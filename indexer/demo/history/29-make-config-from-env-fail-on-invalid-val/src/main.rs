use std::path::Path;
use std::process::ExitCode;

use roster::config::{Config, APP_NAME};
use roster::storage::MemoryStore;
use roster::service::register;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (config, rest) = match args.as_slice() {
        [flag, path, rest @ ..] if flag == "--config" => match Config::from_file(Path::new(path)) {
            Ok(config) => (config, rest),
            Err(err) => {
                eprintln!("error: {err}");
                return ExitCode::from(2);
            }
        },
        rest => match Config::from_env() {
            Ok(config) => (config, rest),
            Err(err) => {
                eprintln!("error: {err}");
                return ExitCode::from(2);
            }
        },
    };
    let (name, email) = match rest {
        [name, email] => (name.as_str(), email.as_str()),
        _ => {
            eprintln!("usage: {APP_NAME} [--config FILE] NAME EMAIL");
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
