import Foundation
import GRDB
import SyncModel
import SyncStore

extension Reconciler {
    /// A new partner: stored under its own code unless that is taken (one statement for the
    /// usual case); otherwise under the code the store-prefix rule gives, recorded as a rename
    /// the node applies (`hub_alias`) and in the audit. A Polish VAT ID another partner has is
    /// reported with a warning (`duplicateVATWarning`).
    static func applyNewPartner(_ e: EntryApplication, _ ready: PreparedChange, context: inout ApplyContext) throws -> Applied {
        guard case .partner(let original, var stored, let sentAsStored) = ready.content else {
            throw PreparedChange.Mismatch(seq: e.seq)
        }
        let db = e.db
        var code = original
        let position = context.positions?.take()
        var echo = e.asSent && sentAsStored
        if try !insertRow(db, table: .partner, stored: stored, stamp: e.stamp, replacing: false, position: position,
                          echoNode: echo ? context.node : nil) {
            code = try context.prefixRule.resolve(code: original, series: context.series) {
                try $0 == original || ReplicatedTable.partner.exists(db, key: $0)
            }
            stored[Self.partnerCodeColumn] = code.databaseValue
            echo = false  // renamed: not the row the node holds
            try insertRow(db, table: .partner, stored: stored, stamp: e.stamp, position: position)  // a code no row has
        }
        if let position { context.positions?.wrote(.partner, code, at: position, prior: .newRow, echo: echo) }
        let touched = [TouchedRow(.partner, code, echo: echo)]
        // A Polish VAT ID another partner has: the store asks the cashier while it reaches the
        // hub; a partner registered offline is stored anyway (nobody could be asked) and reported.
        let warning = try duplicateVATWarning(db, stored: stored, code: code, node: context.node)
        guard code != original else { return e.applied(touched, warning: warning) }
        try db.execute(sql: "INSERT INTO hub_alias (node, old_code, new_code, at) VALUES (?, ?, ?, ?)",
                       arguments: [context.node, original, code, AuditRecord.now()])
        let renameID = db.lastInsertedRowID
        context.pendingRenames.append((original, code))
        let reason = context.prefixRule.explanation(original: original, stored: code, series: context.series)
        try db.appendAudit(AuditRecord(node: context.node, kind: .rename, entity: "partner", key: code, field: "code",
                                       oldValue: original, newValue: code,
                                       reason: "store-prefix rule: \(reason) when node \(context.node) reconnected"))
        return (EntryResult(seq: e.seq, outcome: .renamed, reason: reason,
                            oldCode: original, newCode: code, renameID: renameID, warning: warning), touched)
    }

    /// The warning for a new partner whose Polish VAT ID another live partner has (also in the
    /// hub's audit, kind `duplicate-vat`), or nil.
    static func duplicateVATWarning(_ db: Database, stored: [DatabaseValue], code: String, node: String) throws -> String? {
        let table = ReplicatedTable.partner
        let vat = String.fromDatabaseValue(stored[table.columnIndex["vat_id"]!])
        guard vat != nil, let other = try db.partnerWithSameNIP(vatID: vat, country: String.fromDatabaseValue(stored[table.columnIndex["country"]!]),
                                                                excluding: code) else { return nil }
        let warning = "VAT ID \(vat!) of partner \(code) is already used by partner \(other); the partner was registered offline and saved, check it (posnode duplicates)"
        try db.appendAudit(AuditRecord(node: node, kind: .duplicateVat, entity: "partner", key: code, field: "vat_id",
                                       newValue: vat, reason: warning))
        return warning
    }

    /// The position of `code` in the partner table's stored values.
    static let partnerCodeColumn = ReplicatedTable.partner.columnIndex["code"]!

}
