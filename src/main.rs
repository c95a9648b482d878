fn main() -> std::process::ExitCode {
    clawcron::cli::main()
}
