import Foundation
import GRDB
import SyncModel
import SyncStore

/// A verdict and the rows a change touched (`Reconciler.apply`).
typealias Applied = (EntryResult, [TouchedRow])

/// One journal entry being applied: the change with renames mapped into it, the change as the
/// node sent it, and what every rule reads of them.
struct EntryApplication {
    let db: Database
    /// The change with the node's pending renames mapped into it.
    let change: Change
    /// The change as the node sent it.
    let incoming: Change
    /// No rename changed it.
    let asSent: Bool
    let stamp: MergeStamp
    let kind: RecordKind
    /// The hub writes it itself (central data, a transfer, an erasure): no node holds the
    /// image already, so no row it writes is anyone's echo.
    let byHub: Bool

    /// A row written exactly as the sender wrote it may be marked as the sender's echo (pulls
    /// leave it out for that node).
    var mayEcho: Bool { asSent && !byHub }

    var seq: Int64 { change.seq }
    /// How messages name the record: `partner K1-7`.
    var record: String { "\(change.entity.rawValue) \(change.key)" }

    func applied(_ touched: [TouchedRow] = [], warning: String? = nil) -> Applied {
        (EntryResult(seq: seq, outcome: .applied, warning: warning), touched)
    }

    func reject(_ reason: String, _ code: RefusalCode, resend row: TouchedRow? = nil) -> Applied {
        (EntryResult(seq: seq, outcome: .rejected, reason: reason, code: code), row.map { [$0] } ?? [])
    }

    /// A refusal for field problems, coded by the first (`field-too-long` or `invalid-field`).
    func reject(_ reason: String, problems: [FieldError]) -> Applied {
        reject(reason, problems.first?.refusalCode ?? .invalidField)
    }

    /// The sender already changed its own copy of an existing row. When the hub refuses that
    /// edit, or keeps a newer value for any of its fields, the row is fed again (not as the
    /// sender's echo), so the sender gets the hub's image back instead of keeping its own.
    func refused(_ reason: String, _ code: RefusalCode) -> Applied {
        reject(reason, code, resend: TouchedRow(change.entity, change.key))
    }

    /// Why the node may not touch that record: it is in another region (never for a kind
    /// every store receives).
    func outside(_ entity: Entity, _ key: String, _ what: String, _ context: ApplyContext) throws -> String? {
        guard kind.scope == .region else { return nil }
        return try context.regions?.refusal(db, entity, key, node: context.node, what: what)
    }

    /// Merges the sender's edit into an existing row, fed again when it changed or (as in
    /// `refused`) when the hub kept a newer value for any field. `extendsEcho`: the edit came
    /// as the sender wrote it, so if every field was taken and the row was the sender's own
    /// image, it still is.
    func mergeEdit(_ table: ReplicatedTable, _ key: String, _ fields: Fields, current: Reconciler.StoredRow? = nil,
                   extendsEcho: Bool = false, context: inout ApplyContext) throws -> Applied {
        let position = context.positions?.take()
        let merged = try Reconciler.merge(db, table: table, key: key, fields: fields, stamp: stamp, current: current, position: position,
                                          echoOf: extendsEcho ? context.node : nil)
        if let position, merged.changed {
            context.positions?.wrote(table.entity, key, at: position, prior: .position(merged.priorPosition), echo: merged.echo)
        }
        let fed = merged.changed || !merged.complete
        return applied(fed ? [TouchedRow(table.entity, key, echo: merged.changed && merged.echo)] : [])
    }
}

/// Every problem of a refused row on one line (a `FieldError` or `InvalidFields`).
func oneLine(_ error: Error) -> String {
    (error as? InvalidFields)?.oneLine ?? String(describing: error)
}

/// The refusal code of a validation error (its first problem's).
func refusalCode(_ error: Error) -> RefusalCode {
    if let e = error as? FieldError { return e.refusalCode }
    return (error as? InvalidFields)?.problems.first?.refusalCode ?? .invalidField
}

extension Reconciler {
    /// A new record by its kind's declaration (an address, or any declared kind): the row is
    /// validated, its parent partner must exist at the hub (and be in the sender's region);
    /// it is stored as sent, or, when the hub has the record already, the sent row is merged
    /// into it as an edit.
    static func applyNewRecord(_ e: EntryApplication, context: inout ApplyContext) throws -> Applied {
        guard let table = ReplicatedTable.of(e.kind) else { return e.reject("\(e.record): \(e.change.entity.rawValue) is not stored", .unknownKind) }
        let row = RecordRow(kind: e.kind, values: table.presentColumns(e.change.fields).map { $0 ?? .null })
        do { try e.kind.validate(row) } catch { return e.reject("\(e.record): \(oneLine(error))", refusalCode(error)) }
        let missing = try e.db.referenceProblems(e.kind, values: row.values, kinds: context.kinds, requireActive: false)
        if !missing.isEmpty { return e.reject("\(e.record): \(InvalidFields(missing).oneLine)", problems: missing) }
        let key: String
        do { key = try table.key(of: row.values) } catch { return e.reject("\(e.record): \(oneLine(error))", refusalCode(error)) }
        let name = "\(e.change.entity.rawValue) \(key)"
        if let owner = e.kind.owner, !context.byHub, let value = row[owner].text, value != context.node {
            return e.reject("\(name) would belong to node \(value) (\(owner)); only that node creates it", .notOwner)
        }
        if let parent = e.kind.parent, let code = row[parent].text {
            guard try ReplicatedTable.partner.exists(e.db, key: code) else {
                return e.reject("\(name): partner \(code) does not exist at the hub", .unknownPartner)
            }
            if let refusal = try e.outside(.partner, code, name, context) { return e.reject(refusal, .outsideRegion) }
        }
        let position = context.positions?.take()
        let stored = table.storedValues(columnValues: row.values)
        let echo = !e.byHub && stored == table.storedValues(e.incoming.fields)
        guard try insertRow(e.db, table: table, stored: stored, stamp: e.stamp, replacing: false, position: position,
                            echoNode: echo ? context.node : nil) else {
            if e.change.entity == .orderPickup { try auditDoublePickup(e.db, key: key, second: row, table: table) }
            return try e.mergeEdit(table, key, row.fields, context: &context)
        }
        if let position { context.positions?.wrote(table.entity, key, at: position, prior: .newRow, echo: echo) }
        return e.applied([TouchedRow(table.entity, key, echo: echo)])
    }

    /// An edit of an existing record by its kind's declaration: only its owner node may make
    /// it (documents), only columns the kind lets an update change, and the row after the
    /// edit must pass the kind's validation (read whole only when the edit touches a column
    /// the validation reads; otherwise only the columns the merge compares). Then merged field
    /// by field (`merge`). `fields`: a removal's tombstone flag comes this way too.
    static func applyEdit(_ e: EntryApplication, fields: Fields, removal: Bool = false, context: inout ApplyContext) throws -> Applied {
        guard let table = ReplicatedTable.of(e.kind) else { return e.reject("\(e.record): \(e.change.entity.rawValue) is not stored", .unknownKind) }
        let key = e.change.key
        let validates = !removal && (e.kind.validatedColumns.map { checked in fields.keys.contains { checked.contains($0) } } ?? true)
        let ownerColumn = e.kind.owner.flatMap { table.columnIndex[$0] }
        let wanted = validates ? nil : fields.keys.compactMap { table.columnIndex[$0] } + (ownerColumn.map { [$0] } ?? [])
        guard let stored = try table.hub.fetchWithClocks(e.db, key: key, only: wanted) else {
            return e.reject("\(e.record) does not exist at the hub", .unknownRecord)
        }
        if let ownerColumn, let ownerName = e.kind.owner {
            let owner = stored.values[ownerColumn].text
            // The hub writes the stores' records on their behalf (`storeRecords`: an erasure, a
            // document's invoicing silenced at the hub).
            guard owner == context.node || (context.byHub && context.storeRecords) else {
                return e.reject("\(e.record) belongs to node \(owner ?? "?") (\(ownerName)), not \(context.node)", .notOwner)
            }
        }
        if let refusal = try e.outside(e.change.entity, key, e.record, context) { return e.reject(refusal, .outsideRegion) }
        if !removal {
            for name in fields.keys.sorted() where !e.kind.isEditable(name) {
                return e.refused("\(e.record): field \(name) cannot be changed by an update", .invalidField)
            }
        }
        if validates {
            var merged = RecordRow(kind: e.kind, values: stored.values)
            for (k, v) in fields { merged.values[table.columnIndex[k]!] = v }  // editable: a column
            do { try e.kind.validate(merged) } catch { return e.refused("\(e.record): \(oneLine(error))", refusalCode(error)) }
        }
        if !removal, e.kind.references.keys.contains(where: { fields[$0] != nil }) {
            var values = [FieldValue](repeating: .null, count: e.kind.columns.count)
            for (k, v) in fields { values[table.columnIndex[k]!] = v }
            let missing = try e.db.referenceProblems(e.kind, values: values, kinds: context.kinds, columns: Set(fields.keys), requireActive: false)
            if !missing.isEmpty { return e.refused("\(e.record): \(InvalidFields(missing).oneLine)", missing.first?.refusalCode ?? .invalidField) }
        }
        // The node made the same edit on its own copy; if nothing else had changed the row,
        // the hub's image is now exactly the node's.
        return try e.mergeEdit(table, key, fields, current: stored, extendsEcho: !removal && e.mayEcho, context: &context)
    }

    /// A removal as the kind declares it: a tombstone flag set (merged like an edit), the row
    /// deleted with its clocks, or refused for a kind whose records are never removed.
    static func applyRemoval(_ e: EntryApplication, context: inout ApplyContext) throws -> Applied {
        switch e.kind.removal {
        case .never:
            return e.reject("\(e.record): a \(e.change.entity.rawValue) is never removed", .neverRemoved)
        case .tombstone(let flag):
            return try applyEdit(e, fields: [flag: .bool(true)], removal: true, context: &context)
        case .delete:
            guard let table = ReplicatedTable.of(e.kind) else { return e.reject("\(e.record): \(e.change.entity.rawValue) is not stored", .unknownKind) }
            if let refusal = try e.outside(e.change.entity, e.change.key, e.record, context) { return e.reject(refusal, .outsideRegion) }
            // The row's clocks go with it.
            let removed = try table.delete(e.db, key: e.change.key)
            return e.applied(removed ? [TouchedRow(e.change.entity, e.change.key)] : [])
        }
    }
}

extension Reconciler {
    /// An order another store has already put on a receipt, put on one here too (both were
    /// offline): both receipts stay (each is a real sale); the operator sees it as its own
    /// audit kind, `double-pickup`, naming both stores and receipts.
    static func auditDoublePickup(_ db: Database, key: String, second: RecordRow, table: ReplicatedTable) throws {
        guard let first = try table.fetch(db, key: key), first["receipt_id"] != second["receipt_id"] else { return }
        let a = "\(first["receipt_id"]?.text ?? "?") at \(first["node"]?.text ?? "?")"
        let b = "\(second["receipt_id"].text ?? "?") at \(second["node"].text ?? "?")"
        try db.appendAudit(AuditRecord(node: second["node"].text ?? "?", kind: .doublePickup, entity: "order_pickup", key: key, field: "receipt_id",
                                       oldValue: first["receipt_id"]?.text, newValue: second["receipt_id"].text,
                                       reason: "order \(key) was handed out twice while stores were offline: receipt \(a) and receipt \(b); both receipts are kept, check the order"))
    }
}
