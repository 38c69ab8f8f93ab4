import Foundation
import GRDB
import SyncModel
import SyncStore

/// Feed positions handed out while the hub applies one push or one customer move (see
/// `HubStore.FeedEmitter`). The row a change inserts or changes is written with its position
/// (`HubTable.feedColumn`), so adding its feed row costs no second write of it; the
/// feed gives the other rows it feeds theirs from the same counter.
public struct FeedPositions: Sendable {
    /// A written row's position before this write: it was a new row (a removed record's
    /// tombstone, if any, holds its last feed row), or the position read with the row.
    public enum Prior: Sendable, Equatable {
        case newRow
        case position(Int64?)
    }
    public struct Written: Sendable, Equatable {
        public var position: Int64
        public var prior: Prior
        /// Whether the row was written as the sending node's echo (`feedEchoColumn` set).
        public var echo: Bool
    }

    /// The next position to hand out.
    public private(set) var next: Int64
    /// Rows written with a position by the change being applied (usually one, so a list).
    public private(set) var written: [(row: TouchedRow, written: Written)] = []

    public init(next: Int64) { self.next = next }

    /// A position never handed out before (one left unused is a gap in the feed).
    public mutating func take() -> Int64 {
        defer { next += 1 }
        return next
    }

    /// Notes that the change wrote the row of `entity`/`key` with `position`, and as the
    /// sending node's echo or not.
    public mutating func wrote(_ entity: Entity, _ key: String, at position: Int64, prior: Prior, echo: Bool) {
        let row = TouchedRow(entity, key), w = Written(position: position, prior: prior, echo: echo)
        if let i = written.firstIndex(where: { $0.row == row }) { written[i].written = w } else { written.append((row, w)) }
    }

    /// Hands the rows the change wrote with positions to `buffer` (its old contents dropped);
    /// the next change starts with none. The two swap storage: no allocation per change.
    public mutating func endChange(into buffer: inout [(row: TouchedRow, written: Written)]) {
        buffer.removeAll(keepingCapacity: true)
        swap(&buffer, &written)
    }
}
