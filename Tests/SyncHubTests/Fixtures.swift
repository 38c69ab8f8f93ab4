import Foundation
import GRDB
@testable import SyncHub
import SyncModel
import SyncNode
import SyncStore
import SyncTesting

/// Writes a hub file as an earlier release left it: migrated up to `version`, then `sql` run.
func writeOldHub(at path: String, upTo version: String, _ sql: String) throws {
    let old = try DatabasePool(path: path)
    try HubSchema.migrator(kinds: .standard).migrate(old, upTo: version)
    try old.write { try $0.execute(sql: sql) }
    try old.close()
}
