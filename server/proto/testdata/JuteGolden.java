// JuteGolden prints upstream's jute encoding of fixed records, one
// "name hex" line each, for TestIntegration_JavaJute to compare with
// proto's encoding of the same values. Keep the values in step with
// javaGoldenRecords in java_test.go.
import java.io.ByteArrayOutputStream;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.apache.jute.BinaryOutputArchive;
import org.apache.jute.Record;
import org.apache.zookeeper.CreateMode;
import org.apache.zookeeper.MultiOperationRecord;
import org.apache.zookeeper.MultiResponse;
import org.apache.zookeeper.Op;
import org.apache.zookeeper.OpResult;
import org.apache.zookeeper.ZooDefs;
import org.apache.zookeeper.data.ACL;
import org.apache.zookeeper.data.Id;
import org.apache.zookeeper.data.Stat;
import org.apache.zookeeper.proto.*;
import org.apache.zookeeper.server.quorum.QuorumPacket;
import org.apache.zookeeper.txn.*;

public class JuteGolden {
    static void emit(String name, Record r) throws Exception {
        emit(name, r, null);
    }

    // emit with readOnly non-null appends the readOnly boolean after the
    // record, as 3.8's client and server do by hand (3.8's jute classes for
    // the connect records lack the field; later versions have it).
    static void emit(String name, Record r, Boolean readOnly) throws Exception {
        ByteArrayOutputStream baos = new ByteArrayOutputStream();
        BinaryOutputArchive oa = BinaryOutputArchive.getArchive(baos);
        r.serialize(oa, "r");
        if (readOnly != null) {
            oa.writeBool(readOnly, "readOnly");
        }
        StringBuilder sb = new StringBuilder();
        for (byte b : baos.toByteArray()) {
            sb.append(String.format("%02x", b));
        }
        System.out.println(name + " " + sb);
    }

    public static void main(String[] args) throws Exception {
        byte[] passwd = new byte[16];
        for (int i = 0; i < 16; i++) passwd[i] = (byte) (i + 1);
        Stat stat = new Stat(1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11);
        List<ACL> acl = Arrays.asList(new ACL(31, new Id("world", "anyone")), new ACL(3, new Id("digest", "bob:x")));

        emit("ConnectRequest", new ConnectRequest(0, 0x100000002L, 30000, 0x1000000abcdefL, passwd), true);
        emit("ConnectResponse", new ConnectResponse(0, 4000, 0x42L, passwd), false);
        emit("ConnectRequestLegacy", new ConnectRequest(0, 0x100000002L, 30000, 0x1000000abcdefL, passwd));
        emit("ConnectResponseLegacy", new ConnectResponse(0, 4000, 0x42L, passwd));
        emit("ReplyHeader", new ReplyHeader(-2, 0x500000007L, -101));
        emit("RequestHeader", new RequestHeader(42, 4));
        emit("GetDataResponse", new GetDataResponse("hello".getBytes(), stat));
        emit("GetDataResponseNull", new GetDataResponse(null, stat));
        emit("CreateRequest", new CreateRequest("/c", "d".getBytes(), acl, 3));
        emit("CreateRequestNullACL", new CreateRequest("/c", null, null, 0));
        emit("CreateTTLRequest", new CreateTTLRequest("/t", new byte[0], acl, 5, 60000));
        emit("SetDataRequest", new SetDataRequest("/x", "v".getBytes(), -1));
        emit("GetChildren2Response", new GetChildren2Response(Arrays.asList("a", "b"), stat));
        emit("GetChildrenResponseEmpty", new GetChildrenResponse(new ArrayList<>()));
        emit("GetACLResponse", new GetACLResponse(acl, stat));
        emit("SetWatches2", new SetWatches2(9, Arrays.asList("/a"), null, new ArrayList<>(), Arrays.asList("/p"), Arrays.asList("/r", "/s")));
        emit("WatcherEvent", new WatcherEvent(3, 3, "/w"));
        emit("AuthPacket", new AuthPacket(0, "digest", "bob:pw".getBytes()));
        emit("TxnHeader", new TxnHeader(0x1234L, 9, 0x100000009L, 1700000000000L, 1));
        emit("CreateTxn", new CreateTxn("/n", "v".getBytes(), acl, true, 4));
        emit("MultiTxn", new MultiTxn(Arrays.asList(new Txn(1, "a".getBytes()), new Txn(-1, new byte[] {0, 0, 0, 1}))));
        emit("QuorumPacket", new QuorumPacket(2, 0x500000001L, "txn".getBytes(), null));
        emit("MultiRequest", new MultiOperationRecord(Arrays.asList(
            Op.create("/a", "x".getBytes(), ZooDefs.Ids.OPEN_ACL_UNSAFE, CreateMode.EPHEMERAL),
            Op.setData("/a", "y".getBytes(), 3),
            Op.check("/a", 4),
            Op.delete("/b", -1))));
        emit("MultiReadRequest", new MultiOperationRecord(Arrays.asList(
            Op.getData("/a"), Op.getChildren("/"))));
        MultiResponse mr = new MultiResponse();
        mr.add(new OpResult.CreateResult("/a"));
        mr.add(new OpResult.CreateResult("/a2", stat));
        mr.add(new OpResult.SetDataResult(stat));
        mr.add(new OpResult.CheckResult());
        mr.add(new OpResult.DeleteResult());
        mr.add(new OpResult.GetDataResult("d".getBytes(), stat));
        mr.add(new OpResult.GetChildrenResult(Arrays.asList("k")));
        mr.add(new OpResult.ErrorResult(-111));
        emit("MultiResponse", mr);
    }
}
