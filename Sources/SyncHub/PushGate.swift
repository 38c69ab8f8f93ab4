import Foundation

/// Keeps a node's overlapping pushes in sequence order.
///
/// A node may send its next batch before the reply to the previous one has arrived (the hub
/// says so in `PushReply.window`), so the hub decodes one batch while it applies the other.
/// The two arrive on separate connections and may be decoded in either order; this gate lets a
/// push through to the store only when no push of the same node that ends right before it is
/// still in progress. Everything else (duplicates, gaps, ownership) is decided by the store, as
/// for a push that arrives alone: a push with no such predecessor in progress goes straight on.
final class PushGate: @unchecked Sendable {
    private let lock = NSLock()
    /// Per node: the sequence ranges of pushes that entered and have not left yet.
    private var inProgress: [String: [ClosedRange<Int64>]] = [:]
    /// Per node: pushes waiting for every push that ends at `after` to leave.
    private var waiting: [String: [(after: Int64, resume: CheckedContinuation<Void, Never>)]] = [:]

    /// The pushes of one node the hub takes at once.
    static let window = 2

    /// Registers a push of `range` from `node` and returns when it may be applied. Every call
    /// must be followed by `leave` with the same arguments.
    func enter(node: String, range: ClosedRange<Int64>) async {
        await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
            lock.lock()
            let after = range.lowerBound - 1
            let blocked = inProgress[node, default: []].contains { $0.upperBound == after }
            inProgress[node, default: []].append(range)
            if blocked { waiting[node, default: []].append((after, c)) }
            lock.unlock()
            if !blocked { c.resume() }
        }
    }

    /// The push of `range` is finished (applied, refused or failed).
    func leave(node: String, range: ClosedRange<Int64>) {
        lock.lock()
        var ranges = inProgress[node] ?? []
        if let i = ranges.firstIndex(of: range) { ranges.remove(at: i) }
        inProgress[node] = ranges.isEmpty ? nil : ranges
        var ready: [CheckedContinuation<Void, Never>] = []
        if var queue = waiting[node] {
            queue.removeAll { w in
                guard !ranges.contains(where: { $0.upperBound == w.after }) else { return false }
                ready.append(w.resume)
                return true
            }
            waiting[node] = queue.isEmpty ? nil : queue
        }
        lock.unlock()
        for c in ready { c.resume() }
    }

    /// Pushes registered and not finished (for tests).
    func count(node: String) -> Int {
        lock.lock(); defer { lock.unlock() }
        return inProgress[node]?.count ?? 0
    }
}
