//! `convstate business`: moving one business between saved states.
//!
//! A deployment that keeps one `--state` file per node (one per Kafka partition, say) moves a
//! business by exporting it from one state, importing it into another and removing it from
//! the first. `move` does the three in memory and writes nothing unless all three succeed;
//! `export`, `import` and `remove` are the steps alone, for moving through a file (between
//! machines). The core decides everything (`Engine::export_business`, `import_business`,
//! `remove_business`); this module reads and writes files.

use std::io::{Read, Write};
use std::path::Path;

use convstate::Engine;

use crate::error::CliError;
use crate::{state, BusinessCommand, BusinessMoveArgs, PolicyArgs};

pub fn run(command: &BusinessCommand) -> Result<(), CliError> {
    match command {
        BusinessCommand::Export {
            state: path,
            business,
            out,
        } => {
            let engine = state::load_existing(path)?;
            let export = engine.export_business(business).map_err(refused(path))?;
            write_export(out.as_deref().unwrap_or("-"), &export)
        }
        BusinessCommand::Import {
            state: path,
            file,
            policy,
        } => {
            let export = read_export(file)?;
            let mut engine = load_or_new(path, policy)?;
            engine
                .import_business(&export)
                .map_err(|e| CliError::Data(format!("{file}: cannot import: {e}")))?;
            state::save(path, &engine)
        }
        BusinessCommand::Remove {
            state: path,
            business,
        } => {
            let mut engine = state::load_existing(path)?;
            engine.remove_business(business).map_err(refused(path))?;
            state::save(path, &engine)
        }
        BusinessCommand::Move(args) => run_move(args),
    }
}

fn run_move(args: &BusinessMoveArgs) -> Result<(), CliError> {
    let (from_path, to_path, business) = (&args.from, &args.to, &args.business);
    if to_path.exists() && same_file(from_path, to_path) {
        return Err(CliError::Usage(format!(
            "{} is both the state to move from and the one to move to",
            from_path.display()
        )));
    }
    let mut from = state::load_existing(from_path)?;
    // A new destination runs the source's policy: an export imports only under its own.
    let mut to = match state::load(to_path)? {
        Some(engine) => engine,
        None => Engine::new(from.policy().clone()),
    };
    let export = from.export_business(business).map_err(refused(from_path))?;
    to.import_business(&export)
        .map_err(|e| CliError::Data(format!("{}: cannot import: {e}", to_path.display())))?;
    let before = from.conversation_count();
    from.remove_business(business).map_err(refused(from_path))?;
    let moved = before - from.conversation_count();
    // The destination is written first: a failure between the two writes leaves the
    // business in both states (which a `remove` finishes), never in neither.
    state::save(to_path, &to)?;
    state::save(from_path, &from).map_err(|e| CliError::State {
        path: from_path.clone(),
        problem: format!(
            "{e}; business {business:?} is now in {} and still in {}: run `convstate \
                 business remove {} --business {business}` to finish the move",
            to_path.display(),
            from_path.display(),
            from_path.display(),
        ),
    })?;
    eprintln!(
        "convstate: moved business {business:?} ({moved} conversations) from {} to {}",
        from_path.display(),
        to_path.display()
    );
    Ok(())
}

/// The state at `path`, or a new engine under the requested policy (the default when none
/// is named) when there is no such file yet. A saved state keeps its own policy; naming
/// another is a usage error, as for `replay --state`.
fn load_or_new(path: &Path, policy: &PolicyArgs) -> Result<Engine, CliError> {
    let requested = policy.requested()?;
    match (state::load(path)?, requested) {
        (Some(engine), Some(requested)) if engine.policy() != &requested => {
            Err(CliError::Usage(format!(
                "{} was saved under policy {:?} and the command line asks for another; drop \
                 --policy/--policy-overrides",
                path.display(),
                engine.policy().name
            )))
        }
        (Some(engine), _) => Ok(engine),
        (None, _) => Ok(Engine::new(policy.or_default()?)),
    }
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
        std::fs::read(file)
    };
    read.map_err(|source| CliError::Io {
        what: "cannot read",
        path: file.to_owned(),
        source,
    })
}

fn write_export(out: &str, export: &[u8]) -> Result<(), CliError> {
    let written = if out == "-" {
        let mut stdout = std::io::stdout().lock();
        stdout
            .write_all(export)
            .and_then(|()| stdout.write_all(b"\n"))
            .and_then(|()| stdout.flush())
    } else {
        std::fs::write(out, [export, b"\n"].concat())
    };
    written.map_err(|source| CliError::Io {
        what: "cannot write",
        path: out.to_owned(),
        source,
    })
}

/// Whether two paths name one file (both exist).
fn same_file(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}
