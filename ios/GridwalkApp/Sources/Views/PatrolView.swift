import GridwalkKit
import SwiftUI

struct PatrolView: View {
    let vm: PatrolViewModel
    private let language = Language.preferred()

    var body: some View {
        VStack(spacing: 24) {
            if vm.isRunning {
                TimelineView(.periodic(from: .now, by: 1)) { context in
                    Text(Format.duration(seconds: vm.elapsedSeconds(at: context.date))).font(.system(size: 56, weight: .bold, design: .rounded))
                }
                Text(Format.distance(vm.distanceM, language)).font(.largeTitle)
                Text("定位点 \(vm.pointCount)").font(.title3).foregroundStyle(.secondary)
                Button("结束巡查") { _Concurrency.Task { await vm.stop() } }.bigButton().buttonStyle(.borderedProminent).tint(.red)
            } else {
                if let done = vm.finished {
                    Text("已完成：\(Format.distance(done.distanceM, language))，\(Format.duration(seconds: done.durationS))").font(.title3)
                }
                Button("开始巡查") { _Concurrency.Task { await vm.start() } }.bigButton().buttonStyle(.borderedProminent)
            }
            if let error = vm.error { Text(error.message(language)).foregroundStyle(.red) }
        }
        .padding()
        .navigationTitle("巡查")
        .task { await vm.resume() }
    }
}
