import Foundation
import GRDB
import SyncModel
import SyncStore

/// What applying a new partner or document needs that the change alone decides, without the
/// hub's rows: the row parsed and validated, its stored values, and whether they are the
/// values as sent. `HubServer` works it out while it decodes a batch, beside the push it is
/// applying, so the hub's single writer does not; `Reconciler.apply` works it out itself
/// for a change that comes without it or that a rename changed. One function
/// (`Reconciler.prepare`) decides it either way.
public struct PreparedChange: Sendable {
    enum Content: Sendable {
        /// Nothing to prepare (edits, removals, addresses, moves).
        case none
        /// The change is refused with this reason.
        case invalid(String, RefusalCode)
        /// A new partner: its code, the values `ReplicatedTable.storedValues` gives its row,
        /// and whether those are exactly the values of the image as sent.
        case partner(code: String, stored: [DatabaseValue], sentAsStored: Bool)
        /// A new document, likewise. Boxed: a push holds one prepared change per entry, and
        /// a document inline made every one of them as large as a document.
        indirect case document(Document, stored: [DatabaseValue], sentAsStored: Bool)
    }
    let content: Content

    /// Nothing prepared: what an edit, a removal, an address or a move is prepared as (and what
    /// the hub leaves in place of an entry's preparation once the entry is applied).
    public static let nothing = PreparedChange(content: .none)

    /// Why the change is refused (nil: it may be applied).
    public var refusal: String? {
        if case .invalid(let reason, _) = content { return reason }
        return nil
    }

    /// A prepared change handed to `apply` with another entry than its own (a caller's bug:
    /// the push is not applied).
    struct Mismatch: Error, CustomStringConvertible {
        var seq: Int64
        var description: String { "entry \(seq) came with what was prepared for another entry" }
    }
}
