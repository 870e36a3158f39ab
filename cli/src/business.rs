//! `convstate business`: moving one business between saved states.
//!
//! A deployment that keeps one `--state` file per node (one per Kafka partition, say) moves a
//! business by exporting it from one state, importing it into another and removing it from
//! the first. `move` does the three in memory and writes nothing unless all three succeed;
//! `export`, `import` and `remove` are the steps alone, for moving through a file (between
//! machines). The core decides everything (`Engine::take_business` for `move`, which exports
//! and removes in one step, `export_business`, `import_business`, `remove_business`); this
//! module reads and writes files.

use std::io::Read;
use std::path::Path;

use convstate::Engine;

use crate::error::{input_name, report, CliError};
use crate::paths::same_file;
use crate::{state, BusinessCommand, BusinessMoveArgs};

pub fn run(command: &BusinessCommand) -> Result<(), CliError> {
    match command {
        BusinessCommand::Export {
            state: path,
            business,
            out,
        } => {
            let out = out.as_deref().unwrap_or("-");
            if out != "-" && same_file(path, Path::new(out)) {
                return Err(CliError::Usage(format!(
                    "--out {out} is the state file itself"
                )));
            }
            let engine = state::load_existing(path)?;
            let export = engine.export_business(business).map_err(refused(path))?;
            write_export(out, &export)
        }
        BusinessCommand::Import { state: path, file } => {
            let export = read_export(file)?;
            let _hold = state::hold(path)?;
            let mut engine = import_into(path, &export, input_name(file))?;
            let fired = drain_effects(&mut engine);
            state::save(path, &engine)?;
            crate::write_stdout(fired.as_bytes())
        }
        BusinessCommand::Remove {
            state: path,
            business,
        } => {
            let _hold = state::hold_existing(path)?;
            let mut engine = state::load_existing(path)?;
            engine.remove_business(business).map_err(refused(path))?;
            state::save(path, &engine)
        }
        BusinessCommand::Move(args) => run_move(args),
    }
}

fn run_move(args: &BusinessMoveArgs) -> Result<(), CliError> {
    let (from_path, to_path, business) = (&args.from, &args.to, &args.business);
    if same_file(from_path, to_path) {
        return Err(CliError::Usage(format!(
            "{} is both the state to move from and the one to move to",
            from_path.display()
        )));
    }
    let _holds = (state::hold_existing(from_path)?, state::hold(to_path)?);
    let mut from = state::load_existing(from_path)?;
    let before = from.conversation_count();
    // Export and removal in one step, in memory: nothing is written if the import fails.
    let export = from.take_business(business).map_err(refused(from_path))?;
    let moved = before - from.conversation_count();
    let mut to = import_into(to_path, &export, &to_path.display().to_string())?;
    let fired = drain_effects(&mut to);
    // The destination is written first: a failure between the two writes leaves the
    // business in both states (which a `remove` finishes), never in neither.
    state::save(to_path, &to)?;
    state::save(from_path, &from).map_err(|e| {
        let problem = match e {
            CliError::State { problem, .. } => problem,
            other => other.to_string(),
        };
        CliError::State {
            path: from_path.clone(),
            problem: format!(
                "{problem}; business {business:?} is now in {} and still in {}: run \
                 `convstate business remove {} --business {business}` to finish the move",
                to_path.display(),
                from_path.display(),
                from_path.display(),
            ),
        }
    })?;
    report(format_args!(
        "convstate: moved business {business:?} ({moved} conversations) from {} to {}",
        from_path.display(),
        to_path.display()
    ));
    crate::write_stdout(fired.as_bytes())
}

/// The effects an import caused, as wire lines: the timers that fell due between the two
/// states' clocks, fired at their own instants. Written once the states are saved, so that
/// none is told of a move that was not made; left queued, the next replay of the state would
/// print them with its first input's lines.
fn drain_effects(engine: &mut Engine) -> String {
    let mut lines = String::new();
    engine.poll_effects_into(&mut lines);
    lines
}

/// The state at `path` with the business of `export` (read from `source`) added, in
/// memory; a state that does not exist yet starts from the export, under its policy. A
/// saved state keeps its own policy, and the core refuses an export of another.
fn import_into(path: &Path, export: &[u8], source: &str) -> Result<Engine, CliError> {
    let imported = match state::load(path)? {
        Some(mut engine) => engine.import_business(export).map(|()| engine),
        None => Engine::from_business_export(export),
    };
    imported.map_err(|e| {
        // The core reports a business or phone_number_id the state holds already as an
        // invalid event; an export is no event, and the prefix sent the reader looking for a
        // bad line. The problem alone says what is in the way.
        let problem = match e {
            convstate::Error::InvalidEvent { problem } => problem,
            other => other.to_string(),
        };
        CliError::Data(format!("{source}: cannot import: {problem}"))
    })
}

/// The engine's refusal (an unknown business, mostly), naming the state file.
fn refused(path: &Path) -> impl Fn(convstate::Error) -> CliError + '_ {
    move |e| CliError::Data(format!("{}: {e}", path.display()))
}

fn read_export(file: &str) -> Result<Vec<u8>, CliError> {
    let read = if file == "-" {
        let mut bytes = Vec::new();
        std::io::stdin().read_to_end(&mut bytes).map(|_| bytes)
    } else {
        crate::paths::read_data_file(std::path::Path::new(file))
    };
    read.map_err(|source| CliError::Io {
        what: "cannot read",
        path: input_name(file).to_owned(),
        source,
    })
}

fn write_export(out: &str, export: &[u8]) -> Result<(), CliError> {
    let export = [export, b"\n"].concat();
    if out == "-" {
        return crate::write_stdout(&export);
    }
    // Atomically, as a state is saved: a crash leaves no half an export for `import` to read.
    // The error names the step that failed (`cannot write`, `cannot replace`...): this says
    // what the step was for, not `cannot write` a second time.
    state::write_atomically(Path::new(out), &export).map_err(|source| CliError::Io {
        what: "cannot export to",
        path: out.to_owned(),
        source,
    })
}
