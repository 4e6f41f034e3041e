using System.Net;
using KmeshCompiler.Loader;
using KmeshCompiler.Loader.DataPlane;
using KmeshCompiler.Lowering;

namespace KmeshCompiler.Tests.Kernel;

/// <summary>The programs at the limits the compiler enforces: every stage at KMESH_MAX_STAGE_STEPS and
/// the match table full. The verifier accepted the programs when the object loaded (it checks them
/// for every input); these runs show that a packet needing the whole budget still finishes and
/// decides, with the same four tail calls as a packet needing none.</summary>
public sealed class WorstCaseTests
{
    [KernelFact]
    public void Every_stage_at_the_step_budget_finishes_and_decides()
    {
        using var prog = AuthorizationProgram.Load();
        var t = new HandTables();
        uint portSet = t.PortSet(1);
        int matches = (int)Layout.MaxMatches;
        var ids = new uint[matches];
        for (int i = 0; i < matches; i++) ids[i] = t.Match(new KmeshMatch { PortSet = portSet });
        uint clause = t.Clause(ids[..(matches - 1)]);                 // 1 + 65535 steps
        uint falseRule = t.Rule(clause);
        uint trueRule = t.Rule();
        int policies = (int)(Layout.MaxStageSteps / 2) - 1;           // 2 steps each
        var pids = new List<uint>();
        for (int i = 0; i < policies - 1; i++) pids.Add(t.Policy(Layout.ActionAllow, false, falseRule));
        uint last = t.Policy(Layout.ActionDeny, false, trueRule);
        pids.Add(last);
        uint eval = t.RawEval(true, ids, [clause], [falseRule, trueRule], [.. pids]);
        t.Workload(IPAddress.Parse("10.0.0.1"), 0, eval);
        prog.Fill(t.Contents());

        prog.ClearScratch();
        var r = prog.Run(Packets.Syn(IPAddress.Parse("10.9.0.1"), IPAddress.Parse("10.0.0.1"), 80));
        Assert.Equal(XdpAction.Drop, r.XdpAction);
        Assert.Equal((AuthorizationProgram.VerdictSlot.DenyPolicy, last), prog.LastDecision());
        Assert.Equal(0UL, prog.VerdictCount(AuthorizationProgram.VerdictSlot.Error));
    }
}
