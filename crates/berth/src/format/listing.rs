//! `--format` for list commands (`ps`, `images`, `history`), like docker's
//! formatter package: `table` templates get a header row and tab alignment,
//! `json` prints one JSON object per line, anything else is a plain template.

use super::json_value::Json;
use super::tabwriter;
use super::template::Template;

/// Renders `rows` with `format`. `header` maps the row fields to column titles.
pub fn render(format: &str, header: &[(&str, &str)], rows: &[Json]) -> Result<String, String> {
    if format == "json" {
        let mut out = String::new();
        for row in rows {
            out.push_str(&sorted(row).to_json_html());
            out.push('\n');
        }
        return Ok(out);
    }
    let (is_table, body) = match format.strip_prefix("table") {
        Some(rest) => (true, rest),
        None => (false, format),
    };
    let body = body
        .trim_matches(' ')
        .replace("\\t", "\t")
        .replace("\\n", "\n");
    let tmpl = Template::parse(&body).map_err(|e| format!("template parsing error: {e}"))?;
    let mut text = String::new();
    if is_table {
        let header_obj = Json::Object(
            header
                .iter()
                .map(|(k, v)| (k.to_string(), Json::String(v.to_string())))
                .collect(),
        );
        // a header for fields without a title is empty, like docker's
        let header_line = tmpl
            .execute(&body, &header_obj)
            .or_else(|_| Ok::<String, String>(String::new()))?;
        text.push_str(&header_line);
        text.push('\n');
    }
    for row in rows {
        text.push_str(&tmpl.execute(&body, row)?);
        text.push('\n');
    }
    Ok(if is_table {
        tabwriter::TABLE.format(&text)
    } else {
        text
    })
}

/// Object keys in sorted order, as Go marshals the map docker builds.
fn sorted(row: &Json) -> Json {
    match row {
        Json::Object(fields) => {
            let mut f = fields.clone();
            f.sort_by(|a, b| a.0.cmp(&b.0));
            Json::Object(f)
        }
        other => other.clone(),
    }
}

/// A row object from string fields.
pub fn row(fields: Vec<(&str, String)>) -> Json {
    Json::Object(
        fields
            .into_iter()
            .map(|(k, v)| (k.to_string(), Json::String(v)))
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_with_header() {
        let rows = vec![row(vec![("ID", "abc".into()), ("Name", "x".into())])];
        let out = render(
            "table {{.ID}}\\t{{.Name}}",
            &[("ID", "CONTAINER ID"), ("Name", "NAMES")],
            &rows,
        )
        .unwrap();
        assert_eq!(out, "CONTAINER ID   NAMES\nabc            x\n");
    }

    #[test]
    fn plain_and_json() {
        let rows = vec![
            row(vec![("ID", "abc".into())]),
            row(vec![("ID", "def".into())]),
        ];
        assert_eq!(render("{{.ID}}", &[], &rows).unwrap(), "abc\ndef\n");
        assert_eq!(
            render(
                "json",
                &[],
                &[row(vec![("b", "1".into()), ("a", "2".into())])]
            )
            .unwrap(),
            "{\"a\":\"2\",\"b\":\"1\"}\n"
        );
        assert_eq!(
            render("json", &[], &rows).unwrap(),
            "{\"ID\":\"abc\"}\n{\"ID\":\"def\"}\n"
        );
        assert!(render("{{.Nope}}", &[], &rows).is_err());
    }
}
