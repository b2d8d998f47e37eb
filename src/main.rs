//! The `hailong` binary: everything lives in the library so that tests and benches use it.

fn main() -> std::process::ExitCode {
    hailong::cli::main()
}
