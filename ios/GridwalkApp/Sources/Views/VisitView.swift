// A visit: "not at home" first and in one tap, then mode, outcome, notes (VisitViewModel).
import GridwalkCore
import GridwalkKit
import SwiftUI

struct VisitView: View {
    @State var vm: VisitViewModel
    let language: Language
    @Environment(\.dismiss) var dismiss

    var body: some View {
        NavigationStack {
            Form {
                Button("未遇（不在家）") { _Concurrency.Task { if await vm.notAtHome() { dismiss() } } }
                    .bigButton().buttonStyle(.bordered)
                Picker("方式", selection: $vm.mode) {
                    ForEach([VisitMode.inPerson, .phone, .messaging], id: \.self) { Text($0.label(language)).tag($0) }
                }
                Picker("情况", selection: $vm.outcome) {
                    ForEach([VisitOutcome.fine, .needsFollowUp, .problemFound, .noContact], id: \.self) { Text($0.label(language)).tag($0) }
                }
                TextField("备注", text: $vm.notes, axis: .vertical)
                ForEach(Array(vm.fieldErrors.byField.values), id: \.code) { FieldError(error: $0, language: language) }
                if let error = vm.error { Text(error.message(language)).foregroundStyle(.red) }
                Button("保存走访") { _Concurrency.Task { if await vm.save() { dismiss() } } }.bigButton().buttonStyle(.borderedProminent)
            }
            .navigationTitle("走访")
        }
    }
}
