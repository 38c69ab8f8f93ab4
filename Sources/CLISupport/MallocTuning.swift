import CMalloc
import Foundation

/// glibc malloc settings `posnode` and `poshub` make first thing in `main`.
///
/// glibc gives each thread that allocates an arena of its own (up to 8 per core), and raises
/// its threshold for serving large blocks by `mmap` each time such a block is freed, so the
/// decoded batches and compressed pages that pass between threads stay in whichever arena
/// held them last. Measured with `posbench --only memory` (peak RSS while a store pushes a
/// 1,000,000-change backlog; this 2-core VM):
///
/// | setting | `posnode sync` | `poshub serve` | catch-up row |
/// |---|---|---|---|
/// | glibc's defaults | 45.2–46.1 MB | 87.0–91.2 MB | 0.43–0.46× |
/// | blocks of 128 KiB and more by `mmap` | 43.1–45.2 MB | 82.3–84.4 MB | 0.42–0.45× |
/// | one arena | 41.3–42.3 MB | 79.0–80.1 MB | 0.42–0.43× |
/// | blocks of 64 KiB and more by `mmap` | 41.5–42.1 MB | 82.0–82.5 MB | 0.27–0.28× |
///
/// A setting the environment makes (`MALLOC_ARENA_MAX`, `MALLOC_MMAP_THRESHOLD_`) is kept.
public enum MallocTuning {
    /// `arenas`: the most arenas (nil: glibc's choice); `mmapThreshold`: the block size in
    /// bytes from which blocks are always mapped and unmapped on their own (nil: glibc's
    /// moving threshold).
    /// Returns the settings made: those asked for, unless the environment makes them or
    /// `mallopt` refuses them.
    @discardableResult
    public static func apply(arenas: Int32?, mmapThreshold: Int32?,
                             environment: [String: String] = ProcessInfo.processInfo.environment) -> [Setting] {
        var made: [Setting] = []
        if let arenas, environment["MALLOC_ARENA_MAX"] == nil, mallopt(M_ARENA_MAX, arenas) == 1 { made.append(.arenas) }
        if let mmapThreshold, environment["MALLOC_MMAP_THRESHOLD_"] == nil, mallopt(M_MMAP_THRESHOLD, mmapThreshold) == 1 {
            made.append(.mmapThreshold)
        }
        return made
    }

    public enum Setting: Sendable, Equatable {
        case arenas, mmapThreshold
    }
}
