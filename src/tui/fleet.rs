//! A synthetic factory at full scale for `wavedeck bench tui`: 2000 databases in 169 waves (the
//! bundled factory's shape: many-database waves, then one-database waves of the largest), with
//! the stage marks of a week's work so the program's pace and calendar have real work to do.
//! Deterministic: fixed times, no randomness.

use super::data::{Data, FeedUpdate};
use super::fixture;
use crate::lifecycle::Stage;
use crate::program::StageMark;
use crate::store::model::WaveState;
use chrono::Duration;

/// Waves of many databases before the one-database waves start.
const MULTI: u32 = 100;

pub fn data(n: usize, waves: u32) -> Data {
    let now = fixture::now();
    let mut dbs = fixture::databases(n);
    let single = waves.saturating_sub(MULTI) as usize;
    let multi_dbs = n.saturating_sub(single);
    for (i, d) in dbs.iter_mut().enumerate() {
        if i < multi_dbs {
            d.wave = Some((i % MULTI.min(waves).max(1) as usize) as u32);
        } else {
            d.wave = Some(MULTI + (i - multi_dbs) as u32);
            d.size_gb = 2000.0 + i as f64;
        }
    }
    let windows = [
        "Sat 22:00-04:00 Asia/Shanghai",
        "Sat,Sun 01:00-05:00 Europe/Paris",
        "Mon-Fri 22:00-02:00 +02:00",
        "daily 01:00-05:00 UTC",
    ];
    let ws: Vec<WaveState> = (0..waves)
        .map(|w| WaveState {
            wave: w,
            window: windows[w as usize % windows.len()].into(),
            approved_by: (w % 3 == 0).then(|| "lead".to_string()),
            approved_at: (w % 3 == 0).then(|| now - Duration::hours(30 + w as i64)),
            started_at: (w < 40).then(|| now - Duration::hours(48)),
            done: None,
        })
        .collect();
    // A week of work: each database walks its stages up to where it stands now.
    let path = [
        Stage::Prechecks,
        Stage::Provisioning,
        Stage::FullLoad,
        Stage::Cdc,
        Stage::Validation,
        Stage::Ready,
        Stage::Cutover,
        Stage::Hypercare,
        Stage::Completed,
    ];
    let mut marks = Vec::new();
    for (i, d) in dbs.iter().enumerate() {
        let upto = match d.stage {
            Stage::Failed | Stage::Paused => d.held_stage.unwrap_or(Stage::Registered),
            s => s,
        };
        let start = now - Duration::hours(160) + Duration::minutes((i as i64 * 7) % 9000);
        for (k, st) in path.iter().enumerate() {
            if crate::program::stage_pos(*st) > crate::program::stage_pos(upto) {
                break;
            }
            marks.push((
                start + Duration::minutes(40 * k as i64),
                d.db_id.clone(),
                *st,
            ));
        }
        if d.stage == Stage::Failed {
            marks.push((
                now - Duration::hours((i % 30) as i64),
                d.db_id.clone(),
                Stage::Failed,
            ));
        }
    }
    marks.sort_by_key(|m| m.0);
    let marks: Vec<StageMark> = marks
        .into_iter()
        .enumerate()
        .map(|(k, (time, db_id, to))| StageMark {
            seq: k as i64 + 1,
            time: time.min(now),
            db_id,
            to,
        })
        .collect();
    let mut data = Data::default();
    data.apply(FeedUpdate {
        dbs: Some(dbs),
        waves: Some(ws),
        commands: Some(Vec::new()),
        marks,
        ..Default::default()
    });
    data
}
