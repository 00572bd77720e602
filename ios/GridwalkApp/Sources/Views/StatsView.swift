// Work statistics for the day, week or month (StatsViewModel).
import GridwalkCore
import GridwalkKit
import SwiftUI

struct StatsView: View {
    @State var vm: StatsViewModel
    let language: Language

    var body: some View {
        List {
            Picker("周期", selection: Binding(get: { vm.period }, set: { p in _Concurrency.Task { await vm.choosePeriod(p) } })) {
                Text("日").tag(Period.day)
                Text("周").tag(Period.week)
                Text("月").tag(Period.month)
            }
            .pickerStyle(.segmented)
            if let s = vm.stats {
                Text("\(s.firstDay) – \(s.lastDay)").foregroundStyle(.secondary)
                LabeledContent("走访", value: "\(s.visitsTotal)")
                LabeledContent("走访户数", value: "\(s.householdsVisited)")
                LabeledContent("巡查", value: "\(s.patrols)")
                LabeledContent("巡查里程", value: vm.patrolDistance(language))
                LabeledContent("事件", value: "\(s.casesTotal)")
                ForEach(vm.casesByCategory(language), id: \.label) { row in
                    LabeledContent(row.label, value: "\(row.count)").padding(.leading)
                }
            }
        }
        .font(.title3)
        .navigationTitle("工作统计")
        .task { await vm.load() }
    }
}
