// Sign-in until there is a session, then five tabs: today, households, cases, sync, statistics.
// Patrol and a new case are reached from today (one tap on the quota line or the "+").
// Each screen keeps its view model in `@State`: made once when the screen appears, not at every
// redraw, so what the worker typed survives SwiftUI re-evaluating a parent.
import GridwalkCore
import GridwalkKit
import SwiftUI

struct RootView: View {
    let model: AppModel

    var body: some View {
        if let error = model.openError {
            ContentUnavailableView(error.message(model.language), systemImage: "lock.trianglebadge.exclamationmark")
        } else if let repo = model.repository, let signIn = model.signIn {
            if signIn.session == nil {
                SignInView(vm: signIn)
            } else {
                TabView {
                    NavigationStack { TodayView(vm: TodayViewModel(repository: repo, location: model.location), model: model) }
                        .tabItem { Label("今日", systemImage: "checklist") }
                    NavigationStack { HouseholdsView(vm: HouseholdsViewModel(repository: repo), model: model) }
                        .tabItem { Label("住户", systemImage: "house") }
                    NavigationStack { CasesView(vm: CasesViewModel(repository: repo), model: model) }
                        .tabItem { Label("事件", systemImage: "exclamationmark.bubble") }
                    NavigationStack { SyncView(vm: SyncViewModel(repository: repo), language: model.language) }
                        .tabItem { Label("同步", systemImage: "arrow.triangle.2.circlepath") }
                    NavigationStack { StatsView(vm: StatsViewModel(repository: repo), language: model.language) }
                        .tabItem { Label("统计", systemImage: "chart.bar") }
                }
            }
        } else {
            ProgressView()
        }
    }
}

/// A form field's error under it, in the worker's language.
struct FieldError: View {
    let error: AppError?
    let language: Language
    var body: some View {
        if let error { Text(error.message(language)).font(.callout).foregroundStyle(.red) }
    }
}

extension View {
    /// Large touch targets for gloved or older hands (at least 52 pt high, full width).
    func bigButton() -> some View {
        self.frame(maxWidth: .infinity, minHeight: 52).font(.title3.weight(.semibold))
    }
}
