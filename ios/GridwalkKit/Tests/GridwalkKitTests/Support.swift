// Fakes of what the phone provides, the server's address, the grid leader's side of the case
// loop (over the server's HTTP API), and small helpers shared by the suites.
import Foundation
import XCTest

@testable import GridwalkCore
@testable import GridwalkKit

#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

let grid = "640323001001001"
let community = "640323001001"
let workerName = "wangfang"
let leaderName = "zhaomin"
let demoPassword = "demo-pass"
// Valid GB 11643 numbers (invented): a man born 1980-01-01; the same with a wrong check digit.
let idGood = "640323198001011235"
let idBadChecksum = "640323198001011234"

/// A 32×24 PNG gradient; `jpegBytes()` turns it into what an iPhone camera hands over (JPEG).
let pngBytes = Data(base64Encoded: "iVBORw0KGgoAAAANSUhEUgAAACAAAAAYCAIAAAAUMWhjAAAFhUlEQVR4nBXVsaqDQBCF4b+IIBLQYosIQQJabBFBJKDFFgoiAS22UAgiaLFFhCABU6Tw4W/uC+wHOzPnABzAhiN4IOAEZ7hABBKukMANclBQQAV3aEFDBw8YYQYDT3jBGz7whf33OhYHC9viaOFZCIuTxdniYhFZSIurRWJxs8gtlEVhUVncLVoLbdFZPCxGi9nCWDwtXhZvi4/F12K3foDDwcF2ODp4DsLh5HB2uDhEDtLh6pA43BxyB+VQOFQOd4fWQTt0Dg+H0WF2MA5Ph5fD2+Hj8HXYnR/gcnCxXY4unotwObmcXS4ukYt0ubokLjeX3EW5FC6Vy92lddEuncvDZXSZXYzL0+Xl8nb5uHxddpf/Xz8IbMFR4AmE4CQ4Cy6CSCAFV0EiuAlygRIUgkpwF7QCLegED8EomAVG8BS8BG/BR/AV7L+R4nPwsX2OPp6P8Dn5nH0uPpGP9Ln6JD43n9xH+RQ+lc/dp/XRPp3Pw2f0mX2Mz9Pn5fP2+fh8fXb/BwQcAuyAY4AXIAJOAeeAS0AUIAOuAUnALSAPUAFFQBVwD2gDdEAX8AgYA+YAE/AMeAW8Az4B34A9+AEhhxA75BjihYiQU8g55BIShciQa0gScgvJQ1RIEVKF3EPaEB3ShTxCxpA5xIQ8Q14h75BPyDdkD/lf9YPElhwlnkRITpKz5CKJJFJylSSSmySXKEkhqSR3SSvRkk7ykIySWWIkT8lL8pZ8JF/J/rsjYg4xdswxxosRMaeYc8wlJoqRMdeYJOYWk8eomCKmirnHtDE6pot5xIwxc4yJeca8Yt4xn5hvzB7/gJRDip1yTPFSRMop5ZxySYlSZMo1JUm5peQpKqVIqVLuKW2KTulSHiljypxiUp4pr5R3yiflm7KnPyDjkGFnHDO8DJFxyjhnXDKiDJlxzUgybhl5hsooMqqMe0aboTO6jEfGmDFnmIxnxivjnfHJ+GbsGf/5clDYiqPCUwjFSXFWXBSRQiquikRxU+QKpSgUleKuaBVa0SkeilExK4ziqXgp3oqP4qvYf+FFyaHELjmWeCWi5FRyLrmURCWy5FqSlNxK8hJVUpRUJfeStkSXdCWPkrFkLjElz5JXybvkU/It2csfUHOosWuONV6NqDnVnGsuNVGNrLnWJDW3mrxG1RQ1Vc29pq3RNV3No2asmWtMzbPmVfOu+dR8a/b6BzQcGuyGY4PXIBpODeeGS0PUIBuuDUnDrSFvUA1FQ9Vwb2gbdEPX8GgYG+YG0/BseDW8Gz4N34a94T/UDxpbc9R4GqE5ac6aiybSSM1Vk2humlyjNIWm0tw1rUZrOs1DM2pmjdE8NS/NW/PRfDX7rzHoOfTYPccer0f0nHrOPZeeqEf2XHuSnltP3qN6ip6q597T9uierufRM/bMPabn2fPqefd8er49e/8DBg4D9sBxwBsQA6eB88BlIBqQA9eBZOA2kA+ogWKgGrgPtAN6oBt4DIwD84AZeA68Bt4Dn4HvwD78gInDhD1xnPAmxMRp4jxxmYgm5MR1Ipm4TeQTaqKYqCbuE+2EnugmHhPjxDxhJp4Tr4n3xGfiO7FP/DfpwWAbjgbPIAwnw9lwMUQGabgaEsPNkBuUoTBUhruhNWhDZ3gYRsNsMIan4WV4Gz6Gr2H/1TQLhwV74bjgLYiF08J54bIQLciF60KycFvIF9RCsVAt3BfaBb3QLTwWxoV5wSw8F14L74XPwndhX37AymHFXjmueCti5bRyXrmsRCty5bqSrNxW8hW1UqxUK/eVdkWvdCuPlXFlXjErz5XXynvls/Jd2dcfsHHYsDeOG96G2DhtnDcuG9GG3LhuJBu3jXxDbRQb1cZ9o93QG93GY2PcmDfMxnPjtfHe+Gx8N/aNP8w2ZpC6PvMMAAAAAElFTkSuQmCC")!

/// Real JPEG bytes: the core's own re-encoding of `pngBytes` (what the camera would hand over).
func jpegBytes() throws -> Data {
    let scratch = try GridwalkStore.openInMemory()
    defer { scratch.closeStore() }
    try scratch.upsertOrgUnits(units: [OrgUnit(code: grid, name: "网格", level: .grid, isMine: true)])
    let draft = try scratch.draftCase(input: CaseInput(typeCode: "0203", urgency: .normal, gridCode: grid))
    let photo = try scratch.addPhoto(owner: .case(id: draft.id), bytes: pngBytes)
    let path = try XCTUnwrap(photo.path)
    let bytes = try XCTUnwrap(FileManager.default.contents(atPath: path))
    XCTAssertEqual(Array(bytes.prefix(2)), [0xFF, 0xD8], "a JPEG")
    return bytes
}

func serverUrl() throws -> String {
    try XCTUnwrap(
        ProcessInfo.processInfo.environment["GRIDWALK_SERVER_URL"],
        "GRIDWALK_SERVER_URL is not set: run through scripts/test-ios.sh")
}

/// The Keychain's stand-in: keeps the key across "restarts" of the app (new repositories).
final class MemoryKeyStore: KeyStore, @unchecked Sendable {
    private let lock = NSLock()
    private var key: String?
    private(set) var saves = 0
    var failLoad = false

    func loadKey() throws -> String? {
        lock.lock(); defer { lock.unlock() }
        if failLoad { throw AppError(kind: .failure, code: "keychain", messageZh: "钥匙串不可用", messageEn: "keychain unavailable") }
        return key
    }

    func saveKey(_ key: String) throws {
        lock.lock(); defer { lock.unlock() }
        self.key = key
        saves += 1
    }
}

/// A GPS that plays the fixes a test hands it, like a CLLocationManager delegate would.
final class FakeLocation: LocationProvider, @unchecked Sendable {
    private let lock = NSLock()
    private var onFix: (@Sendable (LocationFix) -> Void)?
    private(set) var starts = 0
    private(set) var stops = 0
    var current: LocationFix?
    var denied = false

    var isRunning: Bool { lock.lock(); defer { lock.unlock() }; return onFix != nil }

    func startUpdates(_ onFix: @escaping @Sendable (LocationFix) -> Void) throws {
        if denied { throw AppError(kind: .failure, code: "location_denied", messageZh: "未允许定位", messageEn: "location not allowed") }
        lock.lock(); self.onFix = onFix; starts += 1; lock.unlock()
    }

    func stopUpdates() {
        lock.lock(); onFix = nil; stops += 1; lock.unlock()
    }

    func currentFix() async -> LocationFix? { current }

    /// Delivers fixes on a background thread, one at a time, as the platform would.
    func walk(_ fixes: [LocationFix]) {
        lock.lock(); let deliver = onFix; lock.unlock()
        guard let deliver else { return }
        let done = DispatchSemaphore(value: 0)
        DispatchQueue.global().async {
            for f in fixes { deliver(f) }
            done.signal()
        }
        done.wait()
    }
}

/// `count` fixes going north about 2 m a second, starting `startMs`.
func walkingFixes(count: Int, startMs: Int64, lat: Double = 37.78, lng: Double = 107.40) -> [LocationFix] {
    (0..<count).map { i in
        LocationFix(lat: lat + Double(i) * 0.00002, lng: lng, accuracyM: 5, atMs: startMs + Int64(i) * 1000)
    }
}

/// A camera whose next pictures the test chooses (nil = the worker cancelled).
final class FakeCamera: PhotoCapture, @unchecked Sendable {
    private let lock = NSLock()
    private var queue: [Data?] = []
    func willReturn(_ photo: Data?) { lock.lock(); queue.append(photo); lock.unlock() }
    func captureJPEG() async throws -> Data? { next() }
    private func next() -> Data? {
        lock.lock(); defer { lock.unlock() }
        return queue.isEmpty ? nil : queue.removeFirst()
    }
}

final class FakeScheduler: BackgroundScheduler, @unchecked Sendable {
    private let lock = NSLock()
    private(set) var refresh: [Date] = []
    private(set) var processing: [Date] = []
    func scheduleRefresh(earliest: Date) throws { lock.lock(); refresh.append(earliest); lock.unlock() }
    func scheduleProcessing(earliest: Date) throws { lock.lock(); processing.append(earliest); lock.unlock() }
}

/// Waits (on the main actor, letting posted updates run) until `condition` holds.
@MainActor
func eventually(_ what: String, timeout: TimeInterval = 10, _ condition: () -> Bool) async {
    let deadline = Date().addingTimeInterval(timeout)
    while !condition() {
        if Date() > deadline { XCTFail("timed out waiting for \(what)"); return }
        try? await _Concurrency.Task.sleep(nanoseconds: 20_000_000)
    }
}

/// A fresh folder for one test's store.
func scratchDirectory() throws -> URL {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("gridwalk-kit-\(UUID())")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    return dir
}

/// Registers the demo grid on a store that has not signed in (offline tests).
func seedGrid(_ repository: Repository) async throws {
    try await repository.call {
        try $0.upsertOrgUnits(units: [
            OrgUnit(code: community, name: "幸福社区", level: .community),
            OrgUnit(code: grid, name: "幸福社区第1网格", level: .grid, parentCode: community, isMine: true),
        ])
    }
}

/// The grid leader (赵敏) working the case loop through the server's HTTP API
/// (docs/protocol.md, "Case actions").
struct Leader {
    let base: String
    let token: String

    static func signIn(_ base: String) async throws -> Leader {
        let session = try await send(base, "POST", "/v1/auth/login", token: nil, body: [
            "username": leaderName, "password": demoPassword, "device_id": "xctest-leader-desk",
        ])
        let token = try XCTUnwrap(session["access_token"] as? String, "no access_token in \(session.keys)")
        return Leader(base: base, token: token)
    }

    /// Applies one case action; returns the case's status after it.
    @discardableResult
    func act(_ caseId: String, _ action: String, assignee: String? = nil) async throws -> String {
        var body: [String: Any] = ["action": action]
        if let assignee { body["assignee"] = assignee }
        let record = try await Self.send(base, "POST", "/v1/cases/\(caseId)/actions", token: token, body: body)
        let data = record["data"] as? [String: Any]
        return (data?["status"] as? String) ?? ""
    }

    static func send(_ base: String, _ method: String, _ path: String, token: String?, body: [String: Any]) async throws -> [String: Any] {
        var request = URLRequest(url: try XCTUnwrap(URL(string: base + path)))
        request.httpMethod = method
        request.setValue("1", forHTTPHeaderField: "x-gridwalk-protocol")
        request.setValue("application/json", forHTTPHeaderField: "content-type")
        if let token { request.setValue("Bearer \(token)", forHTTPHeaderField: "authorization") }
        request.httpBody = try JSONSerialization.data(withJSONObject: body)
        let (data, response) = try await URLSession.shared.data(for: request)
        let status = (response as? HTTPURLResponse)?.statusCode ?? 0
        let text = String(decoding: data, as: UTF8.self)
        XCTAssertTrue((200..<300).contains(status), "\(method) \(path): \(status) \(text)")
        return (try JSONSerialization.jsonObject(with: data) as? [String: Any]) ?? [:]
    }
}
