//! The storage operations a script can call, by the names `prelude.js` gives them
//! (`kv.get`, `ds.find`, ...): parsed once where the call leaves JavaScript, so the
//! driver, the budgets and the trace events match on a type, not on text.

use serde::Serialize;

/// One storage operation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Operation {
    KvGet,
    KvSet,
    KvDelete,
    KvList,
    DsInsert,
    DsFind,
    DsFindOne,
    DsCount,
    DsUpdate,
    DsDelete,
    DsDeleteOldest,
    S3Put,
    S3PutBytes,
    S3Get,
    S3Delete,
    S3List,
}

/// Every operation with its name.
const NAMES: [(Operation, &str); 16] = [
    (Operation::KvGet, "kv.get"),
    (Operation::KvSet, "kv.set"),
    (Operation::KvDelete, "kv.delete"),
    (Operation::KvList, "kv.list"),
    (Operation::DsInsert, "ds.insert"),
    (Operation::DsFind, "ds.find"),
    (Operation::DsFindOne, "ds.findOne"),
    (Operation::DsCount, "ds.count"),
    (Operation::DsUpdate, "ds.update"),
    (Operation::DsDelete, "ds.delete"),
    (Operation::DsDeleteOldest, "ds.deleteOldest"),
    (Operation::S3Put, "s3.put"),
    (Operation::S3PutBytes, "s3.putBytes"),
    (Operation::S3Get, "s3.get"),
    (Operation::S3Delete, "s3.delete"),
    (Operation::S3List, "s3.list"),
];

impl Operation {
    /// The operation called `name`, if there is one.
    pub fn parse(name: &str) -> Option<Operation> {
        NAMES
            .iter()
            .find(|(_, known)| *known == name)
            .map(|(operation, _)| *operation)
    }

    /// Its name in scripts (`kv.get`).
    pub fn name(self) -> &'static str {
        NAMES
            .iter()
            .find(|(operation, _)| *operation == self)
            .map_or("", |(_, name)| name)
    }

    /// True for the operations that change stored data.
    pub fn is_write(self) -> bool {
        use Operation::*;
        matches!(
            self,
            KvSet
                | KvDelete
                | DsInsert
                | DsUpdate
                | DsDelete
                | DsDeleteOldest
                | S3Put
                | S3PutBytes
                | S3Delete
        )
    }
}

impl std::fmt::Display for Operation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// As its name, the text traces have always shown.
impl Serialize for Operation {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_operation_has_one_name_that_parses_back() {
        for (operation, name) in NAMES {
            assert_eq!(Operation::parse(name), Some(operation));
            assert_eq!(operation.name(), name);
            assert_eq!(
                serde_json::to_string(&operation).unwrap(),
                format!("\"{name}\"")
            );
        }
        assert_eq!(Operation::parse("kv.drop"), None);
    }
}
