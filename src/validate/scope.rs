//! `--tables`: a name that matches no table is an error that names what was asked and the
//! closest tables that exist (a typo, the wrong case, MySQL's `db.table` form), never a
//! silent "0 tables".

/// One error per asked name that is not a compared table of the source.
pub fn unmatched(asked: &[String], existing: &[String], excluded: &[String]) -> Vec<String> {
    let mut out = Vec::new();
    for name in asked {
        if excluded.contains(name) {
            out.push(format!(
                "--tables {name:?}: the table is excluded by the runbook's validation.exclude_tables"
            ));
            continue;
        }
        if existing.contains(name) {
            continue;
        }
        let near = closest(name, existing);
        let hint = if near.is_empty() {
            format!(
                "no table is close; the source has {} tables{}",
                existing.len(),
                if existing.is_empty() {
                    String::new()
                } else {
                    format!(
                        ", e.g. {}",
                        existing
                            .iter()
                            .take(3)
                            .cloned()
                            .collect::<Vec<_>>()
                            .join(", ")
                    )
                }
            )
        } else {
            format!("closest: {}", near.join(", "))
        };
        out.push(format!(
            "--tables {name:?} matches no table on the source ({hint}; PostgreSQL tables are `schema.table`, MySQL tables are named without the database)"
        ));
    }
    out
}

/// Up to three existing names nearest to `asked`: equal but for case, or the same last part
/// (`shop.orders` for `orders`), then by edit distance, if it is small for the name's length.
pub fn closest<'a>(asked: &str, existing: &'a [String]) -> Vec<&'a str> {
    let a = asked.to_lowercase();
    let last = |s: &str| s.rsplit('.').next().unwrap_or("").to_string();
    let mut scored: Vec<(usize, &str)> = existing
        .iter()
        .filter_map(|e| {
            let l = e.to_lowercase();
            let score = if l == a {
                0
            } else if last(&l) == last(&a) {
                1
            } else {
                let near = |x: &str, y: &str| {
                    let d = edit_distance(x, y);
                    (d <= (x.chars().count() / 3).max(2)).then_some(d)
                };
                match (near(&a, &l), near(&last(&a), &last(&l))) {
                    (Some(d), _) => 2 + d,
                    (None, Some(d)) => 3 + d,
                    (None, None) => return None,
                }
            };
            Some((score, e.as_str()))
        })
        .collect();
    scored.sort();
    scored.into_iter().take(3).map(|(_, e)| e).collect()
}

/// Levenshtein distance over characters.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cur = row[j + 1];
            row[j + 1] = (prev + usize::from(ca != *cb)).min(row[j] + 1).min(cur + 1);
            prev = cur;
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn closest_names_case_qualified_and_typo() {
        let pg = names(&[
            "public.orders",
            "public.order_items",
            "public.tags",
            "audit.orders",
        ]);
        assert_eq!(closest("public.Orders", &pg)[0], "public.orders");
        assert_eq!(
            closest("orders", &pg),
            vec!["audit.orders", "public.orders"]
        );
        assert_eq!(closest("public.ordres", &pg)[0], "public.orders");
        assert!(closest("zzz", &pg).is_empty());
        let my = names(&["orders", "tags"]);
        assert_eq!(closest("shop.orders", &my), vec!["orders"]);
    }

    #[test]
    fn unmatched_names_what_was_asked() {
        let existing = names(&["public.orders", "public.tags"]);
        let excluded = names(&["public.wavedeck_marker"]);
        assert!(unmatched(&names(&["public.tags"]), &existing, &excluded).is_empty());
        let e = unmatched(
            &names(&[
                "public.tags",
                "Public.Orders",
                "nothing_like_it",
                "public.wavedeck_marker",
            ]),
            &existing,
            &excluded,
        );
        assert_eq!(e.len(), 3, "{e:?}");
        assert!(e[0].starts_with("--tables \"Public.Orders\" matches no table"));
        assert!(e[0].contains("closest: public.orders"), "{}", e[0]);
        assert!(e[1].contains(
            "no table is close; the source has 2 tables, e.g. public.orders, public.tags"
        ));
        assert!(e[2].contains("excluded"));
    }

    #[test]
    fn edit_distance_counts_edits() {
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        assert_eq!(edit_distance("", "ab"), 2);
        assert_eq!(edit_distance("été", "ete"), 2);
    }
}
