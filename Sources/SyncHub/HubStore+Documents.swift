import Foundation
import GRDB
import SyncModel
import SyncReconcile
import SyncStore

/// Documents at the hub: found by their invoicing status, and their invoicing fields set or
/// cleared on their stores' behalf (docs/rules.md, "Invoicing").
extension HubStore {
    /// The ids of the documents whose invoice status is `status`, in id order.
    public func documentIDs(invoiceStatus status: InvoiceStatus) throws -> [String] {
        try invoicedDocuments(status: status).map(\.id)
    }

    /// The documents with an invoice status (or only those of `status`), by status and id:
    /// what the accounting connector works on.
    public func invoicedDocuments(status: InvoiceStatus? = nil) throws -> [Document] {
        try pool.read { db in
            let columns = ReplicatedTable.document.columns.joined(separator: ", ")
            return try Row.fetchAll(db, sql: """
                SELECT \(columns) FROM document WHERE invoice_status IS NOT NULL AND (?1 IS NULL OR invoice_status = ?1) ORDER BY invoice_status, id
                """, arguments: [status?.rawValue]).map { try Document(fields: ReplicatedTable.document.fields(of: $0)) }
        }
    }

    /// Sets or clears (null) invoicing fields of the documents `ids` at the hub, for their
    /// stores, in one transaction, fed to every store: clearing the invoice status takes them
    /// out of the accounting runs (one at a time, or all of a status: `documentIDs`). The same
    /// checks as a store's update; a refusal of any of them changes none. Returns the ids.
    @discardableResult
    public func updateDocumentInvoicing(ids: [String], changes: Fields) throws -> [String] {
        for name in changes.keys.sorted() where !RecordKind.document.isEditable(name) {
            throw HubError.invalid(FieldError(field: name, reason: "cannot be changed: a document is written once; only its invoicing fields change"))
        }
        guard !changes.isEmpty else { throw HubError.invalid(FieldError(field: "clear", reason: "nothing to change")) }
        try write(storeRecords: true) { db in
            for id in ids where try !ReplicatedTable.document.exists(db, key: id) {
                throw HubError.invalid(FieldError(field: "id", reason: "document \(id) does not exist at the hub", code: .notFound))
            }
            return ids.map { CentralChange(.document, .update, key: $0, fields: changes) }
        }
        return ids
    }
}
