import Foundation
import GRDB
import SyncStore
import Synchronization

/// The hub's database, as every part of the hub reads and writes it: a SQLite file, or a
/// PostgreSQL database through a replica in a SQLite file of this process (`PostgresMirror`).
/// The hub's code is the same for both: reads and write transactions over GRDB's `Database`;
/// with PostgreSQL a read first copies in what other hub processes wrote, and a write runs
/// under the database's write lock and is committed there with the replica.
public final class HubDatabase: Sendable {
    /// The SQLite file: the store itself, or the process's replica of a PostgreSQL store.
    public let sqlite: DatabasePool
    let mirror: PostgresMirror?
    /// The replica's folder, removed at `close` (nil: the SQLite file is the store).
    private let replicaFolder: String?

    init(sqlite: DatabasePool, mirror: PostgresMirror? = nil, replicaFolder: String? = nil) {
        self.sqlite = sqlite
        self.mirror = mirror
        self.replicaFolder = replicaFolder
        if let replicaFolder { Self.removeAtExit(replicaFolder) }
    }

    /// Replica folders a command that ends without closing its store leaves: removed when
    /// the process exits (a process killed outright leaves its folder in the temporary folder).
    private static let replicaFolders = Mutex<[String]>([])

    private static func removeAtExit(_ folder: String) {
        let first = replicaFolders.withLock { folders in
            folders.append(folder)
            return folders.count == 1
        }
        if first {
            atexit {
                for folder in HubDatabase.replicaFolders.withLock({ $0 }) { try? FileManager.default.removeItem(atPath: folder) }
            }
        }
    }

    /// A PostgreSQL store: the database at `location` and this process's replica of it, made
    /// anew at each start in a folder of its own under the temporary folder (nothing of it
    /// needs to survive a power cut, so it is written without waiting for the disk).
    /// `onRestore` runs in the write that finds the database restored under the replica.
    static func postgres(_ location: PostgresLocation, password: String?, options: StoreOptions, migrator: DatabaseMigrator, create: Bool,
                         onRestore: @escaping (Database) throws -> Void) throws -> HubDatabase {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("poshub-replica-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        var replicaOptions = options
        replicaOptions.synchronous = .off
        do {
            let (mirror, pool) = try PostgresMirror.open(location: location, password: password, replicaPath: folder + "/hub.sqlite",
                                                         openReplica: { try replicaOptions.openPool(path: $0) }, migrator: migrator, create: create)
            mirror.onRestoreDetected = onRestore
            return HubDatabase(sqlite: pool, mirror: mirror, replicaFolder: folder)
        } catch {
            try? FileManager.default.removeItem(atPath: folder)
            throw error
        }
    }

    /// Runs `value` on a snapshot of the store (with PostgreSQL: after copying in what other
    /// hub processes committed before this call).
    public func read<T>(_ value: (Database) throws -> T) throws -> T {
        if let mirror { try mirror.refresh(sqlite) }
        return try sqlite.read(value)
    }

    /// Runs `updates` in one write transaction of the store (with PostgreSQL: under the
    /// database's write lock, committed in the database first, then in the replica).
    /// `erasing`: an erasure's transaction: with PostgreSQL, the keys of rows it deletes (an
    /// erased external id is a key) are not kept in the database's log of deleted keys; other
    /// processes copy the tables it deleted from whole instead.
    public func write<T>(erasing: Bool = false, _ updates: (Database) throws -> T) throws -> T {
        guard let mirror else { return try sqlite.write(updates) }
        return try mirror.write(sqlite, erasing: erasing, updates)
    }

    /// SQLite's own work outside a transaction (checkpoints, rebuilding the file): on the
    /// SQLite file, which with PostgreSQL is the replica.
    public func writeWithoutTransaction<T>(_ updates: (Database) throws -> T) rethrows -> T {
        try sqlite.writeWithoutTransaction(updates)
    }

    /// `DatabasePool.rebuildEmptyingLog` of the SQLite file.
    public func rebuildEmptyingLog() throws -> Bool {
        try sqlite.rebuildEmptyingLog()
    }

    /// Closes the SQLite file and the database's connections; a replica's files are removed.
    public func close() throws {
        mirror?.close()
        try sqlite.close()
        if let replicaFolder { try? FileManager.default.removeItem(atPath: replicaFolder) }
    }
}
