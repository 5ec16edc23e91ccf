//! The scheduled functions on timers: each tick hands the Lambda's own
//! handler a real-shaped EventBridge "Scheduled Event".

use std::sync::Arc;
use std::time::Duration;

use aws_lambda_events::eventbridge::EventBridgeEvent;
use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use strata_churn::batch::BatchSettings;

use super::Host;

/// How often each job runs; `None` leaves it off.
#[derive(Debug, Clone, Copy)]
pub struct Schedules {
    pub churn: Option<Duration>,
    pub backup: Option<Duration>,
    pub recommend: Option<Duration>,
    pub tiering: Option<Duration>,
    pub value: Option<Duration>,
    pub engage: Option<Duration>,
}

impl Schedules {
    /// Starts the timers on threads of their own (the process ends them);
    /// the jobs run on the caller's runtime.
    pub fn spawn(self, host: Arc<Host>) {
        let runtime = tokio::runtime::Handle::current();
        if let Some(every) = self.churn {
            let (host, runtime) = (host.clone(), runtime.clone());
            std::thread::spawn(move || {
                runtime.block_on(every_period(every, "churn-batch", || {
                    run_churn(&host, Utc::now())
                }))
            });
        }
        if let Some(every) = self.recommend {
            let (host, runtime) = (host.clone(), runtime.clone());
            std::thread::spawn(move || {
                runtime.block_on(every_period(every, "recommend-job", || {
                    run_recommend(&host, Utc::now())
                }))
            });
        }
        if let Some(every) = self.tiering {
            let (host, runtime) = (host.clone(), runtime.clone());
            std::thread::spawn(move || {
                runtime.block_on(every_period(every, "tiering-job", || {
                    run_tiering(&host, Utc::now())
                }))
            });
        }
        if let Some(every) = self.value {
            let (host, runtime) = (host.clone(), runtime.clone());
            std::thread::spawn(move || {
                runtime.block_on(every_period(every, "value-job", || {
                    run_value(&host, Utc::now())
                }))
            });
        }
        if let Some(every) = self.engage {
            let (host, runtime) = (host.clone(), runtime.clone());
            std::thread::spawn(move || {
                runtime.block_on(every_period(every, "engage-job", || {
                    run_engage(&host, Utc::now())
                }))
            });
        }
        if let Some(every) = self.backup {
            std::thread::spawn(move || {
                // The backup future is not `Send` (it borrows across awaits),
                // so it is driven here rather than spawned on the runtime.
                runtime.block_on(every_period(every, "backup", || {
                    run_backup(&host, Utc::now())
                }))
            });
        }
    }
}

/// The schedule's event as EventBridge delivers it.
pub fn scheduled_event(rule: &str, at: DateTime<Utc>) -> anyhow::Result<EventBridgeEvent<Value>> {
    Ok(serde_json::from_value(json!({
        "version": "0",
        "id": uuid_like(at),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": "000000000000",
        "time": at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        "region": "local",
        "resources": [format!("arn:aws:events:local:000000000000:rule/{rule}")],
        "detail": {}
    }))?)
}

fn uuid_like(at: DateTime<Utc>) -> String {
    format!("local-{}", at.timestamp_millis())
}

/// One churn batch run, as the `churn-batch` Lambda runs it.
pub async fn run_churn(host: &Host, at: DateTime<Utc>) -> anyhow::Result<String> {
    let event = scheduled_event("strata-local-churn", at)?;
    let event: EventBridgeEvent = serde_json::from_value(serde_json::to_value(event)?)?;
    let report = strata_churn::lambda::on_schedule(
        host.table.clone(),
        host.cold.clone(),
        host.churn_model.clone(),
        BatchSettings::default(),
        event,
    )
    .await?;
    Ok(serde_json::to_string(&report)?)
}

/// One recommendation precompute, as the `recommend-job` Lambda runs it.
pub async fn run_recommend(host: &Host, at: DateTime<Utc>) -> anyhow::Result<String> {
    let event = scheduled_event("strata-local-recommend", at)?;
    let event: EventBridgeEvent = serde_json::from_value(serde_json::to_value(event)?)?;
    let report = strata_recommend::lambda::on_schedule(
        host.table.clone(),
        host.cold.clone(),
        strata_recommend::job::JobSettings::default(),
        event,
    )
    .await?;
    Ok(format!("{report:?}"))
}

/// One tiering run, as the `tiering-job` Lambda runs it.
pub async fn run_tiering(host: &Host, at: DateTime<Utc>) -> anyhow::Result<String> {
    let event = scheduled_event("strata-local-tiering", at)?;
    let event: EventBridgeEvent = serde_json::from_value(serde_json::to_value(event)?)?;
    let report = strata_tiering::lambda::on_schedule(
        host.tiering.clone(),
        strata_tiering::job::JobSettings::default(),
        event,
    )
    .await?;
    Ok(serde_json::to_string(&report)?)
}

/// One value refresh, as the `value-job` Lambda runs it.
pub async fn run_value(host: &Host, at: DateTime<Utc>) -> anyhow::Result<String> {
    let event = scheduled_event("strata-local-value", at)?;
    let event: EventBridgeEvent = serde_json::from_value(serde_json::to_value(event)?)?;
    let refresh = strata_value::ValueRefresh::new(host.table.clone(), host.privacy.clone());
    let settings = strata_value::RefreshSettings {
        currency: host.options().currency,
        ..strata_value::RefreshSettings::default()
    };
    let report = strata_value::lambda::on_schedule(&refresh, settings, event).await?;
    Ok(format!("{report:?}"))
}

/// One segment run, as the `engage-job` Lambda runs it.
pub async fn run_engage(host: &Host, at: DateTime<Utc>) -> anyhow::Result<String> {
    let event = scheduled_event("strata-local-engage", at)?;
    let event: EventBridgeEvent = serde_json::from_value(serde_json::to_value(event)?)?;
    let segmenter = strata_engage::Segmenter::new(host.table.clone());
    let report =
        strata_engage::lambda::on_schedule(&segmenter, host.segment_settings(), event).await?;
    Ok(format!("{report:?}"))
}

/// One backup run, as the `backup-job` Lambda runs it.
pub async fn run_backup(host: &Host, at: DateTime<Utc>) -> anyhow::Result<String> {
    let event = scheduled_event("strata-local-backup", at)?;
    let outcome = strata_backup::handle(&host.backup, event).await?;
    Ok(outcome.to_string())
}

async fn every_period<F, Fut>(every: Duration, name: &'static str, job: F)
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<String>>,
{
    let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        match job().await {
            Ok(outcome) => tracing::info!(job = name, %outcome, "scheduled job done"),
            Err(error) => {
                tracing::error!(job = name, error = %format!("{error:#}"), "scheduled job failed")
            }
        }
    }
}
