//! Colour themes (YAML files in `themes/`) resolved into ratatui styles, and the symbol sets
//! (Unicode or ASCII). Widgets ask for a semantic role (`theme.fail`), never a raw colour.

use crate::lifecycle::Stage;
use ratatui::style::{Color, Modifier, Style};
use ratatui::symbols::border;
use serde::Deserialize;
use std::path::Path;

/// The themes shipped inside the binary, so `--theme NAME` works from any directory.
pub const BUILTIN: &[(&str, &str)] = &[
    ("dark", include_str!("../../themes/dark.yaml")),
    ("light", include_str!("../../themes/light.yaml")),
    (
        "high-contrast",
        include_str!("../../themes/high-contrast.yaml"),
    ),
    ("16color", include_str!("../../themes/16color.yaml")),
];

#[derive(Deserialize, Default, Clone, Debug)]
#[serde(deny_unknown_fields)]
struct StyleSpec {
    fg: Option<String>,
    bg: Option<String>,
    #[serde(default)]
    bold: bool,
    #[serde(default)]
    dim: bool,
    #[serde(default)]
    italic: bool,
    #[serde(default)]
    underline: bool,
    #[serde(default)]
    reversed: bool,
}

macro_rules! roles {
    ($($name:ident),* $(,)?) => {
        #[derive(Deserialize, Default, Debug)]
        #[serde(default, deny_unknown_fields)]
        struct RolesSpec { $($name: Option<StyleSpec>,)* }

        /// A resolved theme: one style per semantic role.
        #[derive(Clone, Debug)]
        pub struct Theme {
            pub name: String,
            $(pub $name: Style,)*
            /// Indexed by `Stage::ALL` order.
            pub stages: [Style; Stage::COUNT],
            pub lag_warn_s: f64,
            pub lag_fail_s: f64,
            pub sym: Symbols,
            /// NO_COLOR: meaning is carried by symbols and words, never colour alone.
            pub no_color: bool,
        }

        impl Theme {
            fn apply_roles(&mut self, r: &RolesSpec, no_color: bool) -> Result<(), String> {
                $(if let Some(s) = &r.$name {
                    self.$name = resolve(s, no_color).map_err(|e| format!("roles.{}: {e}", stringify!($name)))?;
                })*
                Ok(())
            }
        }
    };
}

roles!(
    base,
    muted,
    title,
    header,
    border,
    border_focus,
    selection,
    key,
    input,
    badge,
    info,
    ok,
    warn,
    fail,
    lag_ok,
    lag_warn,
    lag_fail,
    threshold,
);

#[derive(Deserialize, Default, Debug)]
#[serde(default, deny_unknown_fields)]
struct StagesSpec {
    registered: Option<StyleSpec>,
    prechecks: Option<StyleSpec>,
    provisioning: Option<StyleSpec>,
    full_load: Option<StyleSpec>,
    cdc: Option<StyleSpec>,
    validation: Option<StyleSpec>,
    ready: Option<StyleSpec>,
    ready_offline: Option<StyleSpec>,
    cutover: Option<StyleSpec>,
    hypercare: Option<StyleSpec>,
    completed: Option<StyleSpec>,
    failed: Option<StyleSpec>,
    paused: Option<StyleSpec>,
    aborted: Option<StyleSpec>,
    rolled_back: Option<StyleSpec>,
}

impl StagesSpec {
    fn get(&self, st: Stage) -> Option<&StyleSpec> {
        match st {
            Stage::Registered => self.registered.as_ref(),
            Stage::Prechecks => self.prechecks.as_ref(),
            Stage::Provisioning => self.provisioning.as_ref(),
            Stage::FullLoad => self.full_load.as_ref(),
            Stage::Cdc => self.cdc.as_ref(),
            Stage::Validation => self.validation.as_ref(),
            Stage::Ready => self.ready.as_ref(),
            Stage::ReadyOffline => self.ready_offline.as_ref(),
            Stage::Cutover => self.cutover.as_ref(),
            Stage::Hypercare => self.hypercare.as_ref(),
            Stage::Completed => self.completed.as_ref(),
            Stage::Failed => self.failed.as_ref(),
            Stage::Paused => self.paused.as_ref(),
            Stage::Aborted => self.aborted.as_ref(),
            Stage::RolledBack => self.rolled_back.as_ref(),
        }
    }
}

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
struct LagBands {
    warn_s: f64,
    fail_s: f64,
}

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
struct ThemeFile {
    name: String,
    #[serde(default)]
    roles: RolesSpec,
    #[serde(default)]
    stages: StagesSpec,
    lag_bands: Option<LagBands>,
}

/// Glyphs that differ between Unicode and `--ascii` terminals.
#[derive(Clone, Debug)]
pub struct Symbols {
    pub ascii: bool,
    pub border: border::Set,
    pub gauge_full: char,
    pub gauge_empty: char,
    pub bar: char,
    pub spark: [char; 9],
    pub ok: &'static str,
    pub fail: &'static str,
    pub warn: &'static str,
    pub pending: &'static str,
    pub threshold: char,
    pub arrow: &'static str,
    pub ellipsis: &'static str,
}

pub const ASCII_BORDER: border::Set = border::Set {
    top_left: "+",
    top_right: "+",
    bottom_left: "+",
    bottom_right: "+",
    vertical_left: "|",
    vertical_right: "|",
    horizontal_top: "-",
    horizontal_bottom: "-",
};

impl Symbols {
    pub fn new(ascii: bool) -> Symbols {
        if ascii {
            Symbols {
                ascii,
                border: ASCII_BORDER,
                gauge_full: '#',
                gauge_empty: '.',
                bar: '#',
                spark: [' ', '.', '.', ':', ':', '|', '|', '#', '#'],
                ok: "+",
                fail: "x",
                warn: "!",
                pending: "?",
                threshold: '-',
                arrow: ">",
                ellipsis: "~",
            }
        } else {
            Symbols {
                ascii,
                border: border::ROUNDED,
                gauge_full: '█',
                gauge_empty: '░',
                bar: '█',
                spark: [' ', '▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'],
                ok: "✓",
                fail: "✗",
                warn: "!",
                pending: "…",
                threshold: '┄',
                arrow: "→",
                ellipsis: "…",
            }
        }
    }
}

/// One-letter code per stage, used in the stacked bar when colours are off.
pub fn stage_code(st: Stage) -> char {
    match st {
        Stage::Registered => '.',
        Stage::Prechecks => 'p',
        Stage::Provisioning => 'v',
        Stage::FullLoad => 'f',
        Stage::Cdc => 'c',
        Stage::Validation => 'V',
        Stage::Ready => 'R',
        Stage::ReadyOffline => 'O',
        Stage::Cutover => 'C',
        Stage::Hypercare => 'h',
        Stage::Completed => '=',
        Stage::Failed => 'X',
        Stage::Paused => 'z',
        Stage::Aborted => 'a',
        Stage::RolledBack => 'b',
    }
}

pub fn stage_index(st: Stage) -> usize {
    Stage::ALL.iter().position(|s| *s == st).unwrap_or(0)
}

fn parse_color(s: &str) -> Result<Color, String> {
    let t = s.trim().to_ascii_lowercase().replace('_', "-");
    Ok(match t.as_str() {
        "default" | "reset" => Color::Reset,
        "black" => Color::Black,
        "red" => Color::Red,
        "green" => Color::Green,
        "yellow" => Color::Yellow,
        "blue" => Color::Blue,
        "magenta" => Color::Magenta,
        "cyan" => Color::Cyan,
        "gray" | "grey" => Color::Gray,
        "dark-gray" | "dark-grey" | "bright-black" => Color::DarkGray,
        "light-red" | "bright-red" => Color::LightRed,
        "light-green" | "bright-green" => Color::LightGreen,
        "light-yellow" | "bright-yellow" => Color::LightYellow,
        "light-blue" | "bright-blue" => Color::LightBlue,
        "light-magenta" | "bright-magenta" => Color::LightMagenta,
        "light-cyan" | "bright-cyan" => Color::LightCyan,
        "white" | "bright-white" => Color::White,
        _ if t.starts_with('#') && t.len() == 7 => {
            let v = u32::from_str_radix(&t[1..], 16).map_err(|_| bad_color(s))?;
            Color::Rgb((v >> 16) as u8, (v >> 8) as u8, v as u8)
        }
        _ => Color::Indexed(t.parse::<u8>().map_err(|_| bad_color(s))?),
    })
}

fn bad_color(s: &str) -> String {
    format!("unknown colour {s:?} (use an ANSI name such as green or light-red, default, #rrggbb, or 0-255)")
}

fn resolve(spec: &StyleSpec, no_color: bool) -> Result<Style, String> {
    let mut st = Style::default();
    if let Some(fg) = &spec.fg {
        let c = parse_color(fg)?;
        if !no_color {
            st = st.fg(c);
        }
    }
    if let Some(bg) = &spec.bg {
        let c = parse_color(bg)?;
        if !no_color {
            st = st.bg(c);
        }
    }
    let mut m = Modifier::empty();
    for (on, md) in [
        (spec.bold, Modifier::BOLD),
        (spec.dim, Modifier::DIM),
        (spec.italic, Modifier::ITALIC),
        (spec.underline, Modifier::UNDERLINED),
        (spec.reversed, Modifier::REVERSED),
    ] {
        if on {
            m |= md;
        }
    }
    // Without colours a background-only highlight would vanish: fall back to reverse video.
    if no_color && spec.bg.is_some() && !spec.reversed {
        m |= Modifier::REVERSED;
    }
    Ok(st.add_modifier(m))
}

impl Theme {
    /// Load a theme by built-in name or by path to a YAML file.
    pub fn load(name: &str, ascii: bool, no_color: bool) -> anyhow::Result<Theme> {
        let (label, text) = match BUILTIN.iter().find(|(n, _)| *n == name) {
            Some((n, t)) => (format!("themes/{n}.yaml"), (*t).to_string()),
            None => {
                let p = Path::new(name);
                if !(name.ends_with(".yaml") || name.ends_with(".yml") || p.exists()) {
                    let names: Vec<&str> = BUILTIN.iter().map(|(n, _)| *n).collect();
                    anyhow::bail!(
                        "unknown theme {name:?}: use one of {} or a path to a theme YAML file",
                        names.join(", ")
                    );
                }
                let text = crate::input::read_yaml(p, &crate::input::SMALL)
                    .map_err(|e| anyhow::anyhow!("theme {e}"))?;
                (p.display().to_string(), text)
            }
        };
        Theme::from_yaml(&label, &text, ascii, no_color)
    }

    pub fn from_yaml(
        label: &str,
        text: &str,
        ascii: bool,
        no_color: bool,
    ) -> anyhow::Result<Theme> {
        let file: ThemeFile = serde_yaml::from_str(text).map_err(|e| {
            let line = e.location().map(|l| l.line()).unwrap_or(0);
            anyhow::anyhow!("{label}:{line}: {e} (see themes/dark.yaml for every key)")
        })?;
        let mut th = Theme::fallback(ascii, no_color);
        th.name = file.name.clone();
        th.apply_roles(&file.roles, no_color)
            .map_err(|e| anyhow::anyhow!("{label}: {e}"))?;
        for st in Stage::ALL {
            if let Some(s) = file.stages.get(st) {
                th.stages[stage_index(st)] = resolve(s, no_color)
                    .map_err(|e| anyhow::anyhow!("{label}: stages.{}: {e}", st.as_str()))?;
            }
        }
        if let Some(b) = file.lag_bands {
            if !(b.warn_s >= 0.0 && b.fail_s >= b.warn_s) {
                anyhow::bail!("{label}: lag_bands: need 0 <= warn_s <= fail_s");
            }
            th.lag_warn_s = b.warn_s;
            th.lag_fail_s = b.fail_s;
        }
        Ok(th)
    }

    /// The built-in dark theme, the base every file is layered on.
    pub fn fallback(ascii: bool, no_color: bool) -> Theme {
        let text = BUILTIN[0].1;
        let file: ThemeFile = serde_yaml::from_str(text).expect("the bundled dark theme parses");
        let mut th = Theme {
            name: "dark".into(),
            base: Style::default(),
            muted: Style::default(),
            title: Style::default(),
            header: Style::default(),
            border: Style::default(),
            border_focus: Style::default(),
            selection: Style::default().add_modifier(Modifier::REVERSED),
            key: Style::default(),
            input: Style::default(),
            badge: Style::default(),
            info: Style::default(),
            ok: Style::default(),
            warn: Style::default(),
            fail: Style::default(),
            lag_ok: Style::default(),
            lag_warn: Style::default(),
            lag_fail: Style::default(),
            threshold: Style::default(),
            stages: [Style::default(); Stage::COUNT],
            lag_warn_s: 5.0,
            lag_fail_s: 30.0,
            sym: Symbols::new(ascii),
            no_color,
        };
        th.apply_roles(&file.roles, no_color)
            .expect("the bundled dark theme resolves");
        for st in Stage::ALL {
            if let Some(s) = file.stages.get(st) {
                th.stages[stage_index(st)] = resolve(s, no_color).expect("bundled stage style");
            }
        }
        th
    }

    pub fn stage(&self, st: Stage) -> Style {
        self.stages[stage_index(st)]
    }

    pub fn lag(&self, lag_s: f64) -> Style {
        if lag_s < self.lag_warn_s {
            self.lag_ok
        } else if lag_s < self.lag_fail_s {
            self.lag_warn
        } else {
            self.lag_fail
        }
    }
}

/// NO_COLOR is set (to anything non-empty): see no-color.org.
pub fn no_color_from_env() -> bool {
    std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_bundled_theme_loads() {
        for (name, _) in BUILTIN {
            let th = Theme::load(name, false, false).unwrap();
            assert_eq!(th.name, *name);
        }
    }

    #[test]
    fn the_16color_theme_uses_only_ansi_names() {
        let text = BUILTIN.iter().find(|(n, _)| *n == "16color").unwrap().1;
        assert!(
            !text.contains("\"#"),
            "hex colours do not belong in the 16-colour theme"
        );
        let th = Theme::load("16color", false, false).unwrap();
        for st in [th.ok, th.fail, th.warn, th.selection, th.stage(Stage::Cdc)] {
            for c in [st.fg, st.bg].into_iter().flatten() {
                assert!(!matches!(c, Color::Rgb(..) | Color::Indexed(_)), "{c:?}");
            }
        }
    }

    #[test]
    fn no_color_drops_colours_but_keeps_highlight() {
        let th = Theme::load("dark", false, true).unwrap();
        assert_eq!(th.fail.fg, None);
        assert!(th.fail.add_modifier.contains(Modifier::BOLD));
        assert_eq!(th.selection.bg, None);
        assert!(th.selection.add_modifier.contains(Modifier::REVERSED));
    }

    #[test]
    fn bad_colour_and_unknown_key_are_named() {
        let err = Theme::from_yaml(
            "t.yaml",
            "name: x\nroles:\n  ok: { fg: grene }\n",
            false,
            false,
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("roles.ok") && err.contains("grene"), "{err}");
        let err = Theme::from_yaml(
            "t.yaml",
            "name: x\nroles:\n  okk: { fg: green }\n",
            false,
            false,
        )
        .unwrap_err()
        .to_string();
        assert!(err.starts_with("t.yaml:3:") && err.contains("okk"), "{err}");
        let err = Theme::load("nope", false, false).unwrap_err().to_string();
        assert!(err.contains("dark, light, high-contrast, 16color"), "{err}");
    }

    #[test]
    fn lag_bands_pick_roles() {
        let th = Theme::load("dark", false, false).unwrap();
        assert_eq!(th.lag(1.0), th.lag_ok);
        assert_eq!(th.lag(6.0), th.lag_warn);
        assert_eq!(th.lag(31.0), th.lag_fail);
    }
}
