// The app's entry: opens the encrypted store with the Keychain's key, restores the session, and
// shows sign-in or the worker's tabs. Background sync handlers are registered at launch; the next
// tasks are asked for whenever the app goes to the background.
import GridwalkCore
import GridwalkKit
import SwiftUI

@main
struct GridwalkApp: App {
    @State var model = AppModel()
    @Environment(\.scenePhase) var phase

    init() {
        BackgroundTasksRegistration.register { try await AppModel.openRepository() }
    }

    var body: some Scene {
        WindowGroup {
            RootView(model: model)
                .task { await model.start() }
        }
        .onChange(of: phase) { _, now in
            if now == .background { model.scheduleBackgroundSync() }
        }
    }
}

/// What the whole app shares: the repository, the platform adapters, the signed-in session.
@Observable @MainActor
final class AppModel {
    private(set) var repository: Repository?
    private(set) var openError: AppError?
    let location = CoreLocationProvider()
    let camera = CameraCapture()
    var signIn: SignInViewModel?
    let language = Language.preferred()

    nonisolated static func openRepository() async throws -> Repository {
        let dir = try FileManager.default.url(for: .applicationSupportDirectory, in: .userDomainMask, appropriateFor: nil, create: true)
            .appendingPathComponent("Gridwalk", isDirectory: true)
        return try await Repository.open(directory: dir, keyStore: KeychainKeyStore())
    }

    func start() async {
        guard repository == nil else { return }
        do {
            let repo = try await Self.openRepository()
            repository = repo
            let vm = SignInViewModel(repository: repo)
            await vm.restore()
            signIn = vm
        } catch {
            openError = AppError(error)
        }
    }

    /// The worker's grid (the first of her session's grids).
    var gridCode: String { signIn?.session?.grids.first ?? "" }

    func scheduleBackgroundSync() {
        guard let repository else { return }
        let sync = BackgroundSync(repository: repository, scheduler: BGTaskSchedulerAdapter(), kind: .refresh)
        _Concurrency.Task { await sync.scheduleNext() }
    }
}
