//! Runs the flows of one invocation in the order given (`docker flow deploy --flow=proxy
//! --flow=stop-old`, or the original `--flow=deploy --flow=proxy`), on one opened context.

use crate::cli::GlobalOptions;
use crate::config::{FlowName, Settings};
use crate::interrupt::Interrupt;

use super::context::FlowContext;
use super::error::FlowError;
use super::{deploy, rollback, scale, stop_old, switch};

pub async fn run(
    globals: &GlobalOptions,
    settings: Settings,
    interrupt: Interrupt,
) -> Result<(), FlowError> {
    let flows = settings.flows.clone();
    let cx = FlowContext::open(globals, settings, interrupt, false).await?;
    if flows.contains(&FlowName::Proxy) {
        // Before any flow changes anything: `deploy --flow=proxy` with a broken template must
        // not leave a deployed release behind.
        super::model::check_template(&cx)?;
    }
    let deployed = flows.contains(&FlowName::Deploy);
    for flow in flows {
        match flow {
            FlowName::Deploy => deploy::run(&cx).await?,
            // As in the original: a deploy in the same run already applied --scale.
            FlowName::Scale if deployed => {}
            FlowName::Scale => scale::run(&cx).await?,
            FlowName::Proxy => switch::run(&cx).await?,
            FlowName::StopOld => stop_old::run(&cx).await?,
            FlowName::Rollback => rollback::run(&cx).await?,
            FlowName::Status => super::status::print_service(&cx).await?,
        }
    }
    Ok(())
}
