//! The `durgate` binary: hands the command line to [`durgate::cli`] and turns its outcome into
//! an exit status. Must never hold logic of its own.

fn main() -> std::process::ExitCode {
    durgate::cli::main()
}
