import Foundation
import GRDB
import SyncModel
import SyncStore

extension Reconciler {
    /// A new document: only its own node writes it; one written (offline) for a customer a move
    /// has since re-designated follows the move; its partner must exist at the hub (and be in
    /// the node's region). A document the hub has already takes the sent fields as an edit.
    static func applyNewDocument(_ e: EntryApplication, _ ready: PreparedChange, context: inout ApplyContext) throws -> Applied {
        guard case .document(var doc, var stored, var sentAsStored) = ready.content else {
            throw PreparedChange.Mismatch(seq: e.seq)
        }
        let db = e.db
        guard doc.node == context.node else {
            return e.reject("document \(doc.id) belongs to node \(doc.node), not \(context.node)", .notOwner)
        }
        // A document written (offline) for a customer that a move has since re-designated
        // follows the move, like the documents that existed when the move ran.
        if context.movesRecorded, !doc.isAnonymous, let moved = try CustomerMove.movedTo(db, site: doc.site, code: doc.partnerCode, seq: doc.addressSeq) {
            doc.partnerCode = moved.code
            doc.addressSeq = moved.seq
            stored = ReplicatedTable.document.storedValues(columnValues: doc.columnValues)
            sentAsStored = stored == ReplicatedTable.document.storedValues(e.change.fields)
        }
        // Most documents name neither a category nor an institution: nothing to look up.
        if doc.customerCategory != nil || doc.institution != nil {
            let problems = try db.referenceProblems(.document, values: doc.columnValues, kinds: context.kinds, requireActive: false)
            if !problems.isEmpty { return e.reject("document \(doc.id): \(InvalidFields(problems).oneLine)", problems: problems) }
        }
        let position = context.positions?.take()
        let echo = e.mayEcho && sentAsStored, echoNode = echo ? context.node : nil
        if doc.isAnonymous {
            // An anonymous receipt: no partner to check, and it is in the node's region.
            guard try insertRow(db, table: .document, stored: stored, stamp: e.stamp, replacing: false, position: position, echoNode: echoNode) else {
                return try existingDocument(e, doc, context: &context)
            }
        } else {
            // Without regions one statement covers the usual case: the document is stored when
            // its partner exists and it does not; otherwise the checks below tell which it was.
            var inserted = try context.regions == nil
                && insertRow(db, table: .document, stored: stored, stamp: e.stamp, replacing: false, position: position, echoNode: echoNode,
                             ifPartner: doc.partnerCode)
            if !inserted {
                guard try ReplicatedTable.partner.exists(db, key: doc.partnerCode) else {
                    return e.reject("document \(doc.id): partner \(doc.partnerCode) does not exist at the hub", .unknownPartner)
                }
                if let refusal = try e.outside(.partner, doc.partnerCode, "document \(doc.id)", context) { return e.reject(refusal, .outsideRegion) }
                // Without regions the insert above found the document there already.
                inserted = try context.regions != nil
                    && insertRow(db, table: .document, stored: stored, stamp: e.stamp, replacing: false, position: position, echoNode: echoNode)
                guard inserted else { return try existingDocument(e, doc, context: &context) }
            }
        }
        if let position { context.positions?.wrote(.document, doc.id, at: position, prior: .newRow, echo: echo) }
        try auditOldPrices(db, doc, node: context.node)
        return e.applied([TouchedRow(.document, doc.id, echo: echo)])
    }

    /// A document whose lines were priced (offline) with a price table that has changed since
    /// for one of its lines, at the hub: the offer's base price or the cell for the document's
    /// category and the offer's category is of a later version than the one the store priced
    /// with. The sale keeps its prices; the hub's audit (kind `old-price`) lists it, so an
    /// operator can answer "which sales used an old price?".
    static func auditOldPrices(_ db: Database, _ doc: Document, node: String) throws {
        guard let version = doc.priceVersion, !doc.lines.isEmpty else { return }
        let category = try doc.customerCategory ?? db.defaultCustomerCategory()
        var changed: [String] = []
        for line in doc.lines {
            guard let offer = try db.offer(line.offer) else { continue }
            let cell = try category.flatMap { try db.priceCell(customerCategory: $0, offerCategory: offer.offerCategory) }
            guard offer.priceVersion > version || (cell?.priceVersion ?? 0) > version else { continue }
            guard offer.active else {
                // Withdrawn at the hub after the store priced the line.
                changed.append("\(line.offer) sold at \(Document.formatAmount(line.unitPrice)), now withdrawn")
                continue
            }
            // The unit price alone, not the whole line: a line the hub's prices would now refuse
            // (a total over the largest amount) must not refuse the sale, which is kept as sold.
            guard let now = try? Pricing.unitPrice(Pricing.Inputs(offer: offer.code, offerCategory: offer.offerCategory, basePrice: offer.priceMinor,
                                                                  currency: offer.currency, cell: cell.map { ($0.amountMinor, $0.currency) },
                                                                  discount: .none)).amount else { continue }
            if now != line.unitPrice {
                changed.append("\(line.offer) sold at \(Document.formatAmount(line.unitPrice)), now \(Document.formatAmount(now))")
            }
        }
        guard !changed.isEmpty else { return }
        try db.appendAudit(AuditRecord(node: node, kind: .oldPrice, entity: "document", key: doc.id, field: "price_version",
                                       oldValue: String(version), newValue: String(try db.priceTableVersion()),
                                       reason: "priced with price table version \(version), which had changed at the hub: " + changed.joined(separator: "; ")))
    }

    /// A customer move request, carried out by the hub (`CustomerMove`) with the hub's clock,
    /// so its decisions beat every value the hub had seen; a refusal is audited.
    static func applyMove(_ e: EntryApplication, context: inout ApplyContext) throws -> Applied {
        let db = e.db
        do {
            var request = try MoveRequest(fields: e.change.fields)
            request.site = context.site
            let touched = try CustomerMove.execute(db, request, stamp: MergeStamp(hlc: context.hubHLC, node: context.node), kinds: context.kinds,
                                                   siteRegion: context.regions.map { scope in { try scope.siteRegion(db, $0) } })
            context.movesRecorded = true
            return e.applied(Array(touched))
        } catch let refused as MoveRefused {
            try db.appendAudit(AuditRecord(node: context.node, kind: .moveRefused, entity: "move", key: e.change.key,
                                           reason: refused.description))
            return e.reject(refused.description, .moveRefused)
        } catch let error as FieldError {
            return e.reject(error.description, error.refusalCode)
        }
    }

    /// A new document under an id the hub holds already. The node's own number again for
    /// another sale (a store restored from a backup numbers from where the backup was): both
    /// sales are kept, this one under the node's next free number at the hub, as the
    /// store-prefix rule keeps both customers of one code. Otherwise the sent fields are taken
    /// as an edit. Read only when the insert found the id taken: no extra read for a new one.
    static func existingDocument(_ e: EntryApplication, _ sent: Document, context: inout ApplyContext) throws -> Applied {
        var doc = sent
        guard !context.byHub, let existing = try ReplicatedTable.document.fetch(e.db, key: doc.id).map(Document.init(fields:)),
              existing.node == doc.node, !sameSale(existing, doc) else {
            return try e.mergeEdit(.document, doc.id, doc.fields, context: &context)
        }
        let original = doc.id
        doc.id = try nextFreeDocumentID(e.db, after: original)
        let stored = ReplicatedTable.document.storedValues(columnValues: doc.columnValues)
        let position = context.positions?.take()
        try insertRow(e.db, table: .document, stored: stored, stamp: e.stamp, position: position)
        if let position { context.positions?.wrote(.document, doc.id, at: position, prior: .newRow, echo: false) }
        let result = try recordRename(e.db, .document, original: original, code: doc.id, seq: e.seq, context: &context)
        return (result, [TouchedRow(.document, doc.id)])
    }

    /// Whether two documents under one id are one sale (a repeat) rather than two.
    static func sameSale(_ a: Document, _ b: Document) -> Bool {
        a.kind == b.kind && a.partnerCode == b.partnerCode && a.amountMinor == b.amountMinor && a.currency == b.currency
            && a.issuedAt == b.issuedAt && a.lines == b.lines
    }

    /// The node's next free number of the same letter at the hub (`WAW1-R5` -> `WAW1-R16` when
    /// the hub holds `WAW1-R15`).
    static func nextFreeDocumentID(_ db: Database, after id: String) throws -> String {
        let digits = id.reversed().prefix { $0.isASCII && $0.isNumber }.count
        let prefix = String(id.dropLast(digits))
        var highest = Int64(id.suffix(digits)) ?? 0
        for other in try String.fetchAll(db, sql: "SELECT id FROM document WHERE id > ? AND id < ?", arguments: [prefix, prefix + "\u{10FFFF}"]) {
            if let n = Int64(other.dropFirst(prefix.count)) { highest = max(highest, n) }
        }
        return prefix + String(highest + 1)
    }
}
