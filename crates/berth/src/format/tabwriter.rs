//! A port of the elastic-tabstop algorithm of Go's `text/tabwriter` (as forked by
//! docker/cli), for the settings docker uses: left alignment, space padding.
//!
//! Input is text whose cells are terminated by `\t` and lines by `\n`. The text
//! after the last tab of a line is not part of any column and is never padded.

use super::text::display_width;

/// Column layout parameters: `minwidth` is the minimal column width including
/// padding, `padding` is added to the widest cell of each column.
#[derive(Debug, Clone, Copy)]
pub struct TabWriter {
    pub minwidth: usize,
    pub padding: usize,
}

/// docker's table writer: `tabwriter.NewWriter(out, 10, 1, 3, ' ', 0)`.
pub const TABLE: TabWriter = TabWriter {
    minwidth: 10,
    padding: 3,
};

impl TabWriter {
    /// Aligns `text` and returns the formatted result.
    pub fn format(&self, text: &str) -> String {
        let lines: Vec<Vec<&str>> = text.split('\n').map(|l| l.split('\t').collect()).collect();
        let mut out = String::with_capacity(text.len() * 2);
        let mut widths = Vec::new();
        self.format_block(&mut out, &mut widths, &lines, 0, lines.len());
        out
    }

    fn format_block(
        &self,
        out: &mut String,
        widths: &mut Vec<usize>,
        lines: &[Vec<&str>],
        mut line0: usize,
        line1: usize,
    ) {
        let column = widths.len();
        let mut this = line0;
        while this < line1 {
            if column + 1 >= lines[this].len() {
                this += 1;
                continue;
            }
            // this line has a cell in `column`: print the lines before it, then
            // find the block of consecutive lines that share the column
            self.write_lines(out, widths, lines, line0, this);
            line0 = this;
            let mut width = self.minwidth;
            while this < line1 {
                let line = &lines[this];
                if column + 1 >= line.len() {
                    break;
                }
                width = width.max(display_width(line[column]) + self.padding);
                this += 1;
            }
            widths.push(width);
            self.format_block(out, widths, lines, line0, this);
            widths.pop();
            line0 = this;
        }
        self.write_lines(out, widths, lines, line0, line1);
    }

    fn write_lines(
        &self,
        out: &mut String,
        widths: &[usize],
        lines: &[Vec<&str>],
        line0: usize,
        line1: usize,
    ) {
        for (i, line) in lines.iter().enumerate().take(line1).skip(line0) {
            for (j, cell) in line.iter().enumerate() {
                out.push_str(cell);
                if let Some(w) = widths.get(j) {
                    let pad = w.saturating_sub(display_width(cell));
                    out.extend(std::iter::repeat_n(' ', pad));
                }
            }
            if i + 1 < lines.len() {
                out.push('\n');
            }
        }
    }
}

/// Formats rows (each a list of cells) with docker's table settings; every line
/// ends with a newline.
#[cfg(test)]
pub fn table(rows: &[Vec<String>]) -> String {
    table_with(TABLE, rows)
}

/// Formats rows with the given settings; every line ends with a newline.
pub fn table_with(tw: TabWriter, rows: &[Vec<String>]) -> String {
    let mut text = String::new();
    for row in rows {
        text.push_str(&row.join("\t"));
        text.push('\n');
    }
    tw.format(&text)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(cells: &[&str]) -> Vec<String> {
        cells.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn ps_header_layout() {
        let out = table(&[row(&[
            "CONTAINER ID",
            "IMAGE",
            "COMMAND",
            "CREATED",
            "STATUS",
            "PORTS",
            "NAMES",
        ])]);
        assert_eq!(
            out,
            "CONTAINER ID   IMAGE     COMMAND   CREATED   STATUS    PORTS     NAMES\n"
        );
    }

    #[test]
    fn images_layout_matches_docker() {
        let out = table(&[
            row(&["REPOSITORY", "TAG", "IMAGE ID", "CREATED", "SIZE"]),
            row(&["busybox", "latest", "ddbe27c5ebda", "3 years ago", "1.98MB"]),
        ]);
        assert_eq!(
            out,
            "REPOSITORY   TAG       IMAGE ID       CREATED       SIZE\n\
             busybox      latest    ddbe27c5ebda   3 years ago   1.98MB\n"
        );
    }

    #[test]
    fn empty_cells_are_padded_and_last_cell_is_not() {
        let out = table(&[
            row(&["A", "PORTS", "NAMES"]),
            row(&["x", "", "name"]),
            row(&["y", "", ""]),
        ]);
        assert_eq!(
            out,
            "A         PORTS     NAMES\nx                   name\ny                   \n"
        );
    }

    #[test]
    fn column_blocks_end_at_lines_without_tabs() {
        let tw = TabWriter {
            minwidth: 20,
            padding: 1,
        };
        let out = tw
            .format("Client:\n Version:\t1\n Long key name that is wide:\tv\n\nServer:\n x:\ty\n");
        assert_eq!(
            out,
            "Client:\n Version:                    1\n Long key name that is wide: v\n\nServer:\n x:                 y\n"
        );
    }

    #[test]
    fn wide_characters_count_double() {
        let out = table(&[row(&["你好你好你好", "x"]), row(&["a", "y"])]);
        assert_eq!(out, "你好你好你好   x\na              y\n");
    }
}
