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
        var echo = e.mayEcho && sentAsStored
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
        var result = try recordRename(db, .partner, original: original, code: code, seq: e.seq, context: &context)
        result.warning = warning
        return (result, touched)
    }

    /// A code the store-prefix rule changed: kept as a rename the node applies (`hub_alias`),
    /// mapped into the node's later entries of the same push, audited; the entry's verdict.
    static func recordRename(_ db: Database, _ entity: Entity, original: String, code: String, seq: Int64,
                             context: inout ApplyContext) throws -> EntryResult {
        try db.execute(sql: "INSERT INTO hub_alias (node, old_code, new_code, at, entity) VALUES (?, ?, ?, ?, ?)",
                       arguments: [context.node, original, code, AuditRecord.now(), entity.rawValue])
        let renameID = db.lastInsertedRowID
        context.pendingRenames.append(CodeRenaming(entity, old: original, new: code))
        let reason = context.prefixRule.explanation(original: original, stored: code, series: context.series)
        try db.appendAudit(AuditRecord(node: context.node, kind: .rename, entity: entity.rawValue, key: code, field: "code",
                                       oldValue: original, newValue: code,
                                       reason: "store-prefix rule: \(reason) when node \(context.node) reconnected"))
        return EntryResult(seq: seq, outcome: .renamed, reason: reason, oldCode: original, newCode: code, renameID: renameID,
                           entity: entity == .partner ? nil : entity.rawValue)
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

extension Reconciler {
    /// A new record of a kind whose codes clash by the store-prefix rule
    /// (`RecordKind.OnClash.storePrefix`: institutions, and any kind that declares it): stored
    /// under its own code unless that is taken, otherwise under the code the store-prefix rule
    /// gives, by the same rule and the same rename log as a partner (`recordRename`): the node
    /// renames its record and every record that names it. Never merged into another store's
    /// record of the same code.
    static func applyNewPrefixed(_ e: EntryApplication, context: inout ApplyContext) throws -> Applied {
        guard let table = ReplicatedTable.of(e.kind) else { return e.reject("\(e.record): not stored", .unknownKind) }
        var row = RecordRow(kind: e.kind, values: table.presentColumns(e.change.fields).map { $0 ?? .null })
        do { try e.kind.validate(row) } catch { return e.reject("\(e.record): \(oneLine(error))", refusalCode(error)) }
        let codeIndex = table.columnIndex["code"]!
        guard let original = row.values[codeIndex].text, !original.isEmpty else { return e.reject("\(e.record): code is missing", .invalidField) }
        if let problem = PartnerCode.problem(original, entered: false) { return e.reject("\(e.record): \(problem.qualified)", problem.refusalCode) }
        let position = context.positions?.take()
        var stored = table.storedValues(columnValues: row.values)
        var echo = e.mayEcho && stored == table.storedValues(e.incoming.fields)
        var code = original
        if try !insertRow(e.db, table: table, stored: stored, stamp: e.stamp, replacing: false, position: position,
                          echoNode: echo ? context.node : nil) {
            code = try context.prefixRule.resolve(code: original, series: context.series) {
                try $0 == original || table.exists(e.db, key: $0)
            }
            row.values[codeIndex] = .text(code)
            stored = table.storedValues(columnValues: row.values)
            echo = false
            try insertRow(e.db, table: table, stored: stored, stamp: e.stamp, position: position)
        }
        if let position { context.positions?.wrote(table.entity, code, at: position, prior: .newRow, echo: echo) }
        let touched = [TouchedRow(table.entity, code, echo: echo)]
        guard code != original else { return e.applied(touched) }
        return (try recordRename(e.db, e.kind.entity, original: original, code: code, seq: e.seq, context: &context), touched)
    }
}
