//! Incremental parser of PostgreSQL's binary COPY format. Messages from the server split the
//! stream at arbitrary points, so a tuple may straddle two chunks; only such a straddling tail
//! is copied, everything else is parsed in place.

const SIGNATURE: &[u8] = b"PGCOPY\n\xff\r\n\0";

#[derive(Debug, thiserror::Error)]
pub enum CopyError {
    #[error("the COPY stream does not start with the binary signature")]
    BadSignature,
    #[error("the COPY stream has {got} columns per row, expected {want}")]
    ColumnCount { got: i16, want: usize },
    #[error("the COPY stream ended in the middle of a row")]
    Truncated,
    #[error("{0}")]
    Row(String),
}

pub struct CopyParser {
    carry: Vec<u8>,
    header_done: bool,
    finished: bool,
    ncols: usize,
    /// Reused for every tuple: (start, length or -1 for NULL) of each field.
    fields: Vec<(usize, i32)>,
}

/// One tuple of the stream, read in place (no copy, no allocation per row).
pub struct RowView<'a> {
    data: &'a [u8],
    fields: &'a [(usize, i32)],
}

impl<'a> RowView<'a> {
    pub fn len(&self) -> usize {
        self.fields.len()
    }
    pub fn is_empty(&self) -> bool {
        self.fields.is_empty()
    }
    /// Field `i`; None is NULL.
    pub fn get(&self, i: usize) -> Option<&'a [u8]> {
        let (start, len) = *self.fields.get(i)?;
        (len >= 0).then(|| &self.data[start..start + len as usize])
    }
    pub fn iter(&self) -> impl Iterator<Item = Option<&'a [u8]>> + '_ {
        (0..self.fields.len()).map(|i| self.get(i))
    }
}

impl CopyParser {
    pub fn new(ncols: usize) -> Self {
        CopyParser {
            carry: Vec::new(),
            header_done: false,
            finished: false,
            ncols,
            fields: Vec::with_capacity(ncols),
        }
    }

    /// Parse what `chunk` completes; call `row` once per tuple with its fields (None = NULL).
    pub fn feed<F>(&mut self, chunk: &[u8], row: &mut F) -> Result<(), CopyError>
    where
        F: FnMut(&RowView<'_>) -> Result<(), String>,
    {
        if self.carry.is_empty() {
            let used = self.parse(chunk, row)?;
            self.carry.extend_from_slice(&chunk[used..]);
        } else {
            self.carry.extend_from_slice(chunk);
            let data = std::mem::take(&mut self.carry);
            let used = self.parse(&data, row)?;
            self.carry = data[used..].to_vec();
        }
        Ok(())
    }

    /// Call at end of stream: anything left over means a cut-off row.
    pub fn finish(&self) -> Result<(), CopyError> {
        if !self.carry.is_empty() || (!self.finished && self.header_done) {
            // A stream without the -1 trailer is tolerated only if it has no partial data.
            if !self.carry.is_empty() {
                return Err(CopyError::Truncated);
            }
        }
        Ok(())
    }

    fn parse<F>(&mut self, data: &[u8], row: &mut F) -> Result<usize, CopyError>
    where
        F: FnMut(&RowView<'_>) -> Result<(), String>,
    {
        let mut pos = 0usize;
        if !self.header_done {
            if data.len() < 19 {
                return Ok(0);
            }
            if &data[..11] != SIGNATURE {
                return Err(CopyError::BadSignature);
            }
            let ext = u32::from_be_bytes([data[15], data[16], data[17], data[18]]) as usize;
            if data.len() < 19 + ext {
                return Ok(0);
            }
            pos = 19 + ext;
            self.header_done = true;
        }
        let mut fields = std::mem::take(&mut self.fields);
        let res = self.parse_rows(data, pos, &mut fields, row);
        self.fields = fields;
        res
    }

    fn parse_rows<F>(
        &mut self,
        data: &[u8],
        mut pos: usize,
        fields: &mut Vec<(usize, i32)>,
        row: &mut F,
    ) -> Result<usize, CopyError>
    where
        F: FnMut(&RowView<'_>) -> Result<(), String>,
    {
        loop {
            if self.finished {
                return Ok(data.len());
            }
            let start = pos;
            let Some(n) = data.get(pos..pos + 2) else {
                return Ok(start);
            };
            let n = i16::from_be_bytes([n[0], n[1]]);
            pos += 2;
            if n == -1 {
                self.finished = true;
                return Ok(data.len());
            }
            if n as usize != self.ncols || n < 0 {
                return Err(CopyError::ColumnCount {
                    got: n,
                    want: self.ncols,
                });
            }
            fields.clear();
            let mut complete = true;
            for _ in 0..n {
                let Some(l) = data.get(pos..pos + 4) else {
                    complete = false;
                    break;
                };
                let len = i32::from_be_bytes([l[0], l[1], l[2], l[3]]);
                pos += 4;
                if len < 0 {
                    fields.push((pos, -1));
                    continue;
                }
                if data.len() < pos + len as usize {
                    complete = false;
                    break;
                }
                fields.push((pos, len));
                pos += len as usize;
            }
            if !complete {
                return Ok(start);
            }
            row(&RowView { data, fields }).map_err(CopyError::Row)?;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stream(rows: &[Vec<Option<&[u8]>>]) -> Vec<u8> {
        let mut s = SIGNATURE.to_vec();
        s.extend_from_slice(&0u32.to_be_bytes());
        s.extend_from_slice(&0u32.to_be_bytes());
        for r in rows {
            s.extend_from_slice(&(r.len() as i16).to_be_bytes());
            for f in r {
                match f {
                    None => s.extend_from_slice(&(-1i32).to_be_bytes()),
                    Some(v) => {
                        s.extend_from_slice(&(v.len() as i32).to_be_bytes());
                        s.extend_from_slice(v);
                    }
                }
            }
        }
        s.extend_from_slice(&(-1i16).to_be_bytes());
        s
    }

    #[test]
    fn rows_survive_any_split_point() {
        let rows = vec![
            vec![Some(&b"abc"[..]), None],
            vec![Some(&b""[..]), Some(&b"xyz"[..])],
            vec![None, None],
        ];
        let s = stream(&rows);
        for cut in 0..s.len() {
            let mut p = CopyParser::new(2);
            let mut seen: Vec<Vec<Option<Vec<u8>>>> = Vec::new();
            let mut f = |fs: &RowView<'_>| {
                seen.push(fs.iter().map(|x| x.map(|v| v.to_vec())).collect());
                Ok(())
            };
            p.feed(&s[..cut], &mut f).unwrap();
            p.feed(&s[cut..], &mut f).unwrap();
            p.finish().unwrap();
            assert_eq!(seen.len(), 3, "cut at {cut}");
            assert_eq!(seen[0][1], None);
            assert_eq!(
                seen[1][0].as_deref(),
                Some(&b""[..]),
                "empty string is not NULL"
            );
        }
    }

    #[test]
    fn wrong_column_count_and_signature_are_errors() {
        let s = stream(&[vec![Some(&b"a"[..])]]);
        let mut p = CopyParser::new(2);
        assert!(matches!(
            p.feed(&s, &mut |_| Ok(())),
            Err(CopyError::ColumnCount { .. })
        ));
        let mut p = CopyParser::new(1);
        assert!(matches!(
            p.feed(b"NOTPGCOPY..........", &mut |_| Ok(())),
            Err(CopyError::BadSignature)
        ));
    }

    #[test]
    fn cut_off_row_is_reported() {
        let s = stream(&[vec![Some(&b"abcdef"[..])]]);
        let mut p = CopyParser::new(1);
        p.feed(&s[..s.len() - 5], &mut |_| Ok(())).unwrap();
        assert!(matches!(p.finish(), Err(CopyError::Truncated)));
    }
}
