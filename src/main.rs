//! The `docker-flow` binary: the handshake first, then argv -> command -> flow.

use std::process::ExitCode;

use docker_flow::cli::{self, Command, Invocation};
use docker_flow::config::{self, FlowName};
use docker_flow::{error::Error, flow, interrupt::Interrupt, metadata};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    // The handshake comes first and does nothing else: the CLI runs it before every command.
    if args.first().map(String::as_str) == Some(metadata::SUBCOMMAND) {
        print!("{}", metadata::JSON);
        return ExitCode::SUCCESS;
    }
    let standalone = std::env::var_os(cli::ORIGINAL_CLI_ENV).is_none();
    let invocation = match cli::parse(&args, standalone) {
        Ok(i) => i,
        Err(e) => {
            // clap prints help/version to stdout (exit 0) and errors to stderr (exit 2).
            let _ = e.print();
            return ExitCode::from(e.exit_code() as u8);
        }
    };
    match invocation {
        Invocation::Complete {
            words,
            descriptions,
        } => {
            print!("{}", cli::complete::render(&words, descriptions));
            ExitCode::SUCCESS
        }
        Invocation::Run(globals, command) => match run(globals, *command) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("docker flow: {e}");
                ExitCode::from(e.exit_code())
            }
        },
    }
}

fn run(globals: cli::GlobalOptions, command: Command) -> Result<(), Error> {
    // Commands that need neither an engine nor the async runtime.
    match &command {
        Command::Version(f) => {
            flow::version::print(f.format);
            return Ok(());
        }
        Command::Config(args) => return flow::config::run(args),
        _ => {}
    }
    // Every other command runs flows: settings first, so a configuration error (exit 2) comes
    // before anything is touched.
    let cwd = std::env::current_dir()
        .map_err(|e| cli::UsageError(format!("cannot read the current directory: {e}")))?;
    let settings = config::settings_for(&command, &|k| std::env::var(k).ok(), &cwd)?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("start the async runtime");
    runtime.block_on(async move {
        let interrupt = Interrupt::install();
        match settings.flows.as_slice() {
            [FlowName::Status] => flow::status::run(&globals, settings, interrupt).await,
            _ => Ok(flow::run::run(&globals, settings, interrupt).await?),
        }
    })
}
