// Households: search, browse building → unit → floor, care-tier filter; one household's residents
// and visits with their sync badges (HouseholdsViewModel, HouseholdDetailViewModel).
import GridwalkCore
import GridwalkKit
import SwiftUI

struct HouseholdsView: View {
    @State var vm: HouseholdsViewModel
    let model: AppModel
    @State var text = ""

    var body: some View {
        List {
            Section {
                Picker("关怀等级", selection: Binding(get: { vm.careTier }, set: { t in _Concurrency.Task { await vm.chooseCareTier(t) } })) {
                    Text("全部").tag(CareTier?.none)
                    ForEach([CareTier.routine, .attention, .close], id: \.self) { Text($0.label(model.language)).tag(CareTier?.some($0)) }
                }
                .pickerStyle(.segmented)
            }
            if !vm.query.isEmpty {
                ForEach(vm.hits, id: \.id) { hit in
                    NavigationLink(value: TodayDestination.household(id: hit.householdId)) {
                        VStack(alignment: .leading) { Text(hit.title).font(.headline); Text(hit.address).foregroundStyle(.secondary) }
                            .frame(minHeight: 52)
                    }
                }
            } else if vm.building == nil {
                ForEach(vm.buildings, id: \.self) { b in Button(b) { vm.chooseBuilding(b) }.frame(minHeight: 52) }
            } else if vm.unit == nil {
                Button("‹ 楼栋") { vm.chooseBuilding(nil) }
                ForEach(vm.units, id: \.self) { u in Button(u.isEmpty ? "—" : u) { vm.chooseUnit(u) }.frame(minHeight: 52) }
            } else {
                Button("‹ 单元") { vm.chooseUnit(nil) }
                if vm.floor == nil {
                    ForEach(vm.floors, id: \.self) { f in Button("\(f) 层") { vm.chooseFloor(f) }.frame(minHeight: 52) }
                } else {
                    Button("‹ 楼层") { vm.chooseFloor(nil) }
                }
                ForEach(vm.browsed, id: \.id) { h in
                    NavigationLink(value: TodayDestination.household(id: h.id)) {
                        HStack { Text(h.addressLine); Spacer(); Text(h.syncStatus.label(model.language)).font(.caption) }.frame(minHeight: 52)
                    }
                }
            }
        }
        .searchable(text: $text, prompt: Text("姓名、地址、电话或身份证号的任意部分"))
        .onChange(of: text) { _, q in _Concurrency.Task { await vm.searchTyped(q) } }
        .navigationTitle("住户")
        .navigationDestination(for: TodayDestination.self) { DestinationView(destination: $0, model: model) }
        .task { await vm.load() }
    }
}

struct HouseholdDetailView: View {
    @State var vm: HouseholdDetailViewModel
    let model: AppModel
    @State var addingResident = false
    @State var visiting = false

    var body: some View {
        List {
            if let h = vm.household {
                Section { Text(h.addressLine).font(.title3); Text(h.careTier.label(model.language)); Text(h.syncStatus.label(model.language)).font(.caption) }
            }
            Section("人员") {
                ForEach(vm.residents, id: \.id) { r in
                    HStack {
                        VStack(alignment: .leading) {
                            Text(r.name).font(.headline)
                            Text([HouseholdDetailViewModel.masked(idNumber: r.idNumber), HouseholdDetailViewModel.masked(phone: r.phone)].compactMap { $0 }.joined(separator: " · ")).font(.caption)
                        }
                        Spacer()
                        Text(r.syncStatus.label(model.language)).font(.caption)
                    }
                    .frame(minHeight: 52)
                }
                Button("登记人员") { addingResident = true }.bigButton()
            }
            Section("走访记录") {
                ForEach(vm.visits, id: \.id) { v in
                    HStack { Text(v.mode.label(model.language)); Text(v.outcome.label(model.language)); Spacer(); Text(v.syncStatus.label(model.language)).font(.caption) }
                }
                Button("记录走访") { visiting = true }.bigButton()
            }
        }
        .navigationTitle("住户详情")
        .sheet(isPresented: $addingResident, onDismiss: { _Concurrency.Task { await vm.load() } }) {
            if let repo = model.repository {
                ResidentFormView(vm: ResidentFormViewModel(repository: repo, householdId: vm.householdId), language: model.language)
            }
        }
        .sheet(isPresented: $visiting, onDismiss: { _Concurrency.Task { await vm.load() } }) {
            if let repo = model.repository { VisitView(vm: VisitViewModel(repository: repo, householdId: vm.householdId), language: model.language) }
        }
        .task { await vm.load() }
    }
}
