//! `MetaDb`: a thin wrapper over redb for metadata records stored as JSON
//! under string keys. Tables are declared by the caller with [`Table::new`];
//! each write runs in one redb transaction that commits durably or not at all.

use std::path::Path;

use redb::{ReadableDatabase, ReadableTable, TableDefinition, TableError};
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::{Error, Result};

/// A named table of JSON records keyed by string.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Table {
    name: &'static str,
}

impl Table {
    pub const fn new(name: &'static str) -> Table {
        Table { name }
    }

    pub fn name(&self) -> &'static str {
        self.name
    }

    fn def(&self) -> TableDefinition<'static, &'static str, &'static [u8]> {
        TableDefinition::new(self.name)
    }
}

fn db_err(e: impl Into<redb::Error>) -> Error {
    Error::Db(Box::new(e.into()))
}

fn decode<T: DeserializeOwned>(table: Table, key: &str, bytes: &[u8]) -> Result<T> {
    serde_json::from_slice(bytes).map_err(|source| Error::Record {
        table: table.name,
        key: key.to_string(),
        source,
    })
}

fn encode<T: Serialize>(table: Table, key: &str, value: &T) -> Result<Vec<u8>> {
    serde_json::to_vec(value).map_err(|source| Error::Record {
        table: table.name,
        key: key.to_string(),
        source,
    })
}

/// The metadata database (one redb file).
pub struct MetaDb {
    db: Db,
}

/// Opened for writing by the daemon, or read-only by a checker.
enum Db {
    Writable(redb::Database),
    ReadOnly(redb::ReadOnlyDatabase),
}

impl Db {
    fn begin_read(&self) -> Result<redb::ReadTransaction> {
        match self {
            Db::Writable(db) => db.begin_read().map_err(db_err),
            Db::ReadOnly(db) => db.begin_read().map_err(db_err),
        }
    }
}

impl std::fmt::Debug for MetaDb {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MetaDb").finish_non_exhaustive()
    }
}

/// redb page cache: the whole image metadata of a large host fits.
const CACHE_BYTES: usize = 4 << 20;

impl MetaDb {
    /// Opens (creating if needed) the database file and its tables.
    pub fn open(path: &Path, tables: &[Table]) -> Result<MetaDb> {
        // Image metadata is small; the default cache (1 GiB) would let redb
        // keep megabytes it will never need resident in an idle daemon.
        let db = redb::Builder::new()
            .set_cache_size(CACHE_BYTES)
            .create(path)
            .map_err(db_err)?;
        let txn = db.begin_write().map_err(db_err)?;
        for t in tables {
            txn.open_table(t.def()).map_err(db_err)?;
        }
        txn.commit().map_err(db_err)?;
        Ok(MetaDb {
            db: Db::Writable(db),
        })
    }

    /// Opens an existing database for reading only; fails while a process
    /// has it open for writing ([`MetaDb::in_use`] tells that case apart).
    ///
    /// A database its writer did not close (the daemon was killed) needs
    /// redb's recovery, which only a writable open runs; it is run first,
    /// as the daemon's next start would, and changes no record.
    pub fn open_read_only(path: &Path) -> Result<MetaDb> {
        let db = match redb::ReadOnlyDatabase::open(path) {
            Ok(db) => db,
            Err(redb::DatabaseError::RepairAborted) => {
                drop(redb::Database::open(path).map_err(db_err)?);
                redb::ReadOnlyDatabase::open(path).map_err(db_err)?
            }
            Err(e) => return Err(db_err(e)),
        };
        Ok(MetaDb {
            db: Db::ReadOnly(db),
        })
    }

    /// One record, if present.
    pub fn get<T: DeserializeOwned>(&self, table: Table, key: &str) -> Result<Option<T>> {
        let txn = self.db.begin_read()?;
        let t = match txn.open_table(table.def()) {
            Ok(t) => t,
            Err(TableError::TableDoesNotExist(_)) => return Ok(None),
            Err(e) => return Err(db_err(e)),
        };
        match t.get(key).map_err(db_err)? {
            Some(v) => Ok(Some(decode(table, key, v.value())?)),
            None => Ok(None),
        }
    }

    /// Every record of a table, in key order.
    pub fn list<T: DeserializeOwned>(&self, table: Table) -> Result<Vec<(String, T)>> {
        let txn = self.db.begin_read()?;
        let t = match txn.open_table(table.def()) {
            Ok(t) => t,
            Err(TableError::TableDoesNotExist(_)) => return Ok(Vec::new()),
            Err(e) => return Err(db_err(e)),
        };
        collect(table, &t)
    }

    /// Runs `f` in a write transaction: committed if `f` returns `Ok`,
    /// aborted (nothing written) if it returns `Err`.
    pub fn write<R, E: From<Error>>(
        &self,
        f: impl FnOnce(&mut WriteTx<'_>) -> std::result::Result<R, E>,
    ) -> std::result::Result<R, E> {
        let Db::Writable(db) = &self.db else {
            return Err(Error::ReadOnly.into());
        };
        let txn = db.begin_write().map_err(db_err)?;
        let mut tx = WriteTx { txn: &txn };
        match f(&mut tx) {
            Ok(r) => {
                txn.commit().map_err(db_err)?;
                Ok(r)
            }
            Err(e) => {
                if let Err(abort) = txn.abort() {
                    tracing::warn!("metadata transaction abort failed: {abort}");
                }
                Err(e)
            }
        }
    }
}

fn collect<T: DeserializeOwned>(
    table: Table,
    t: &impl ReadableTable<&'static str, &'static [u8]>,
) -> Result<Vec<(String, T)>> {
    let mut out = Vec::new();
    for item in t.iter().map_err(db_err)? {
        let (k, v) = item.map_err(db_err)?;
        let key = k.value().to_string();
        let value = decode(table, &key, v.value())?;
        out.push((key, value));
    }
    Ok(out)
}

/// The handle passed to [`MetaDb::write`] closures.
pub struct WriteTx<'a> {
    txn: &'a redb::WriteTransaction,
}

impl WriteTx<'_> {
    /// Inserts or replaces a record.
    pub fn put<T: Serialize>(&mut self, table: Table, key: &str, value: &T) -> Result<()> {
        let bytes = encode(table, key, value)?;
        let mut t = self.txn.open_table(table.def()).map_err(db_err)?;
        t.insert(key, bytes.as_slice()).map_err(db_err)?;
        Ok(())
    }

    /// Removes a record; returns whether it existed.
    pub fn delete(&mut self, table: Table, key: &str) -> Result<bool> {
        let mut t = self.txn.open_table(table.def()).map_err(db_err)?;
        let existed = t.remove(key).map_err(db_err)?.is_some();
        Ok(existed)
    }

    /// One record as seen by this transaction.
    pub fn get<T: DeserializeOwned>(&self, table: Table, key: &str) -> Result<Option<T>> {
        let t = self.txn.open_table(table.def()).map_err(db_err)?;
        let v = t.get(key).map_err(db_err)?;
        match v {
            Some(v) => Ok(Some(decode(table, key, v.value())?)),
            None => Ok(None),
        }
    }

    /// Every record of a table as seen by this transaction.
    pub fn list<T: DeserializeOwned>(&self, table: Table) -> Result<Vec<(String, T)>> {
        let t = self.txn.open_table(table.def()).map_err(db_err)?;
        collect(table, &t)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    const THINGS: Table = Table::new("things");
    const OTHER: Table = Table::new("other");

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Thing {
        n: u32,
    }

    #[test]
    fn put_get_list_delete() {
        let dir = tempfile::tempdir().unwrap();
        let db = MetaDb::open(&dir.path().join("meta.redb"), &[THINGS]).unwrap();
        assert_eq!(db.get::<Thing>(THINGS, "a").unwrap(), None);
        assert!(db.list::<Thing>(OTHER).unwrap().is_empty());
        db.write(|tx| {
            tx.put(THINGS, "b", &Thing { n: 2 })?;
            tx.put(THINGS, "a", &Thing { n: 1 })?;
            assert_eq!(tx.get::<Thing>(THINGS, "a")?, Some(Thing { n: 1 }));
            Ok::<_, Error>(())
        })
        .unwrap();
        assert_eq!(db.get::<Thing>(THINGS, "a").unwrap(), Some(Thing { n: 1 }));
        let all = db.list::<Thing>(THINGS).unwrap();
        assert_eq!(
            all,
            vec![
                ("a".to_string(), Thing { n: 1 }),
                ("b".to_string(), Thing { n: 2 })
            ]
        );
        let existed = db.write(|tx| tx.delete(THINGS, "a")).unwrap();
        assert!(existed);
        assert_eq!(db.get::<Thing>(THINGS, "a").unwrap(), None);
    }

    #[test]
    fn failed_write_is_rolled_back_and_reopen_keeps_data() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("meta.redb");
        {
            let db = MetaDb::open(&path, &[THINGS]).unwrap();
            db.write(|tx| tx.put(THINGS, "kept", &Thing { n: 7 }))
                .unwrap();
            let r: Result<()> = db.write(|tx| {
                tx.put(THINGS, "lost", &Thing { n: 8 })?;
                Err(Error::InvalidDigest("boom".into()))
            });
            assert!(r.is_err());
            assert_eq!(db.get::<Thing>(THINGS, "lost").unwrap(), None);
        }
        let db = MetaDb::open(&path, &[THINGS]).unwrap();
        assert_eq!(
            db.get::<Thing>(THINGS, "kept").unwrap(),
            Some(Thing { n: 7 })
        );
    }

    #[test]
    fn read_only_reads_and_refuses_writes_and_a_writer() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("meta.redb");
        {
            let db = MetaDb::open(&path, &[THINGS]).unwrap();
            db.write(|tx| tx.put(THINGS, "a", &Thing { n: 1 })).unwrap();
            // A second opener while the writer holds it.
            assert!(MetaDb::open_read_only(&path).is_err());
        }
        let ro = MetaDb::open_read_only(&path).unwrap();
        assert_eq!(ro.get::<Thing>(THINGS, "a").unwrap(), Some(Thing { n: 1 }));
        let r: Result<()> = ro.write(|tx| tx.put(THINGS, "b", &Thing { n: 2 }));
        assert!(matches!(r, Err(Error::ReadOnly)));
    }

    #[test]
    fn bad_record_is_an_error_not_a_panic() {
        let dir = tempfile::tempdir().unwrap();
        let db = MetaDb::open(&dir.path().join("m.redb"), &[THINGS]).unwrap();
        db.write(|tx| tx.put(THINGS, "x", &"not a thing")).unwrap();
        assert!(matches!(
            db.get::<Thing>(THINGS, "x"),
            Err(Error::Record { .. })
        ));
    }
}
