/// A first-in, first-out queue on an array: taking from the front moves an index, and the
/// taken part is dropped when the queue empties, or once it is at least half of the array (a
/// queue that never empties under steady load does not grow without bound). Not thread-safe:
/// its users (`BackgroundThreads`, the hub's push admission) hold their own lock around it.
public struct FIFOQueue<Element> {
    private var items: [Element] = []
    private var head = 0

    public init() {}

    /// Elements not taken yet.
    public var count: Int { items.count - head }
    public var isEmpty: Bool { head == items.count }

    public mutating func append(_ element: Element) { items.append(element) }

    /// Takes the oldest element (nil when empty).
    public mutating func popFirst() -> Element? {
        guard head < items.count else { return nil }
        let element = items[head]
        head += 1
        if head == items.count {
            items.removeAll(keepingCapacity: true)
            head = 0
        } else if head >= 64 && head * 2 >= items.count {
            items.removeFirst(head)
            head = 0
        }
        return element
    }
}
