import Testing
import SyncStore

@Suite("FIFOQueue")
struct FIFOQueueTests {
    @Test("elements come out in the order they went in, across the queue dropping what it has served while it never empties")
    func order() {
        var q = FIFOQueue<Int>()
        #expect(q.isEmpty && q.popFirst() == nil)
        var out: [Int] = []
        var next = 0
        // Three in, two out, many times: the queue grows and is never empty once started.
        for _ in 0..<300 {
            for _ in 0..<3 { q.append(next); next += 1 }
            for _ in 0..<2 { out.append(q.popFirst()!) }
        }
        #expect(q.count == 300)
        while let e = q.popFirst() { out.append(e) }
        #expect(out == Array(0..<900))
        #expect(q.isEmpty && q.count == 0)
    }
}
