import CLISupport
import Testing

/// The allocator settings `posnode` and `poshub` make at start (`MallocTuning`).
@Suite("Allocator settings")
struct MallocTuningTests {
    @Test("both settings are made when the environment makes neither")
    func bothMade() {
        #expect(MallocTuning.apply(arenas: 8, mmapThreshold: 128 * 1024, environment: [:]) == [.arenas, .mmapThreshold])
    }

    @Test("a setting the environment makes is kept")
    func environmentKept() {
        #expect(MallocTuning.apply(arenas: 1, mmapThreshold: 128 * 1024, environment: ["MALLOC_ARENA_MAX": "4"]) == [.mmapThreshold])
        #expect(MallocTuning.apply(arenas: 8, mmapThreshold: 128 * 1024, environment: ["MALLOC_MMAP_THRESHOLD_": "65536"]) == [.arenas])
        #expect(MallocTuning.apply(arenas: nil, mmapThreshold: nil, environment: [:]).isEmpty)
    }
}
