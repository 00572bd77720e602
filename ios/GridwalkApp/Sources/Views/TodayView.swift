// The daily list: one tap on a line acts (TodayViewModel.act); DestinationView maps a
// destination to its screen, so every list of the app opens screens the same way.
import GridwalkCore
import GridwalkKit
import SwiftUI

struct TodayView: View {
    @State var vm: TodayViewModel
    let model: AppModel

    var body: some View {
        List(vm.rows) { row in
            Button { _Concurrency.Task { await vm.act(row) } } label: {
                VStack(alignment: .leading, spacing: 4) {
                    HStack {
                        Text(row.item.title).font(.headline)
                        Spacer()
                        if let badge = row.overdueBadge(model.language) {
                            Text(badge).font(.caption.bold()).padding(6).background(.red, in: Capsule()).foregroundStyle(.white)
                        }
                    }
                    HStack {
                        Text(row.item.detail).foregroundStyle(.secondary)
                        Spacer()
                        if let d = row.distance(model.language) { Text(d).foregroundStyle(.secondary) }
                    }
                }
                .frame(minHeight: 52)
            }
        }
        .navigationTitle("今日待办")
        .navigationDestination(item: Binding(get: { vm.navigateTo }, set: { if $0 == nil { vm.navigationDone() } })) { destination in
            DestinationView(destination: destination, model: model)
        }
        .navigationDestination(for: TodayDestination.self) { DestinationView(destination: $0, model: model) }
        .toolbar {
            NavigationLink(value: TodayDestination.draft(caseId: nil)) { Label("上报事件", systemImage: "plus") }
        }
        .refreshable { await vm.load() }
        .task { await vm.load() }
    }
}

/// The screen one tap on a line of the daily list opens.
struct DestinationView: View {
    let destination: TodayDestination
    let model: AppModel

    var body: some View {
        if let repo = model.repository {
            switch destination {
            case let .household(id):
                HouseholdDetailView(vm: HouseholdDetailViewModel(repository: repo, householdId: id), model: model)
            case let .visit(householdId):
                VisitView(vm: VisitViewModel(repository: repo, householdId: householdId), language: model.language)
            case let .verifyCase(caseId):
                CaseDetailView(vm: CaseDetailViewModel(repository: repo, camera: model.camera, caseId: caseId), language: model.language)
            case .patrol:
                PatrolView(vm: PatrolViewModel(repository: repo, location: model.location, gridCode: model.gridCode))
            case let .draft(caseId):
                CaseDraftView(vm: CaseDraftViewModel(repository: repo, camera: model.camera, location: model.location, gridCode: model.gridCode),
                              caseId: caseId, language: model.language)
            }
        }
    }
}
