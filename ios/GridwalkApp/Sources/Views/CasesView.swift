// Cases: those awaiting verification first, then all; one case's timeline and the on-site
// verification with after-photos (CasesViewModel, CaseDetailViewModel).
import GridwalkCore
import GridwalkKit
import SwiftUI

struct CasesView: View {
    @State var vm: CasesViewModel
    let model: AppModel

    var body: some View {
        List {
            if !vm.awaitingVerification.isEmpty {
                Section("待核查") {
                    ForEach(vm.awaitingVerification, id: \.id) { c in
                        NavigationLink(value: TodayDestination.verifyCase(caseId: c.id)) { row(c) }
                    }
                }
            }
            Section("我的事件") {
                ForEach(vm.cases, id: \.id) { c in
                    NavigationLink(value: c.status == .draft ? TodayDestination.draft(caseId: c.id) : TodayDestination.verifyCase(caseId: c.id)) { row(c) }
                }
            }
        }
        .navigationTitle("事件")
        .navigationDestination(for: TodayDestination.self) { DestinationView(destination: $0, model: model) }
        .refreshable { await vm.load() }
        .task { await vm.load() }
    }

    private func row(_ c: Case) -> some View {
        HStack {
            Text(c.description.isEmpty ? c.typeCode : c.description).lineLimit(2)
            Spacer()
            VStack(alignment: .trailing) {
                Text(c.status.label(model.language)).font(.caption.bold())
                Text(c.syncStatus.label(model.language)).font(.caption2)
            }
        }
        .frame(minHeight: 52)
    }
}

/// One case: its timeline, and the on-site verification when the leader asked for it.
struct CaseDetailView: View {
    @State var vm: CaseDetailViewModel
    let language: Language

    var body: some View {
        List {
            if let c = vm.theCase {
                Section { Text(c.description); Text(c.status.label(language)).font(.headline) }
            }
            Section("进展") {
                ForEach(vm.timeline, id: \.id) { e in
                    HStack { Text(e.kind.label(language)); Spacer(); Text(Date(timeIntervalSince1970: Double(e.atMs) / 1000), style: .date) }
                }
            }
            if vm.canVerify {
                Section("现场核查") {
                    Text("整改后照片 \(vm.afterPhotos.count)")
                    Button("拍整改后照片") { _Concurrency.Task { await vm.takeAfterPhoto() } }.bigButton()
                    TextField("核查说明（不通过时必填）", text: $vm.note, axis: .vertical)
                    FieldError(error: vm.fieldErrors["note"], language: language)
                    Button("核查通过") { _Concurrency.Task { await vm.confirm() } }.bigButton().buttonStyle(.borderedProminent)
                    Button("核查不通过") { _Concurrency.Task { await vm.reject() } }.bigButton().buttonStyle(.bordered).tint(.red)
                }
            } else if vm.verificationSent {
                Text("核查结果待同步")
            }
            if let error = vm.error { Text(error.message(language)).foregroundStyle(.red) }
        }
        .navigationTitle("事件详情")
        .task { await vm.load() }
    }
}
