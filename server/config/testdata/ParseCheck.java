// ParseCheck runs upstream ZooKeeper's own QuorumPeerConfig on each zoo.cfg
// named on the command line and prints what it made of it, in the canonical
// form config_java_test.go renders a Go Config in. Run with the single-file
// source launcher: java -cp <zookeeper jars> ParseCheck.java a.cfg b.cfg ...
import java.net.InetSocketAddress;
import java.util.Map;
import java.util.Properties;
import java.util.TreeMap;
import org.apache.zookeeper.server.quorum.QuorumPeer.QuorumServer;
import org.apache.zookeeper.server.quorum.QuorumPeerConfig;

public class ParseCheck {
    static String addr(InetSocketAddress a) {
        return a == null ? "null" : a.getHostString() + ":" + a.getPort();
    }

    public static void main(String[] args) {
        for (String path : args) {
            Properties saved = (Properties) System.getProperties().clone();
            QuorumPeerConfig.setStandaloneEnabled(true);
            QuorumPeerConfig.setReconfigEnabled(false);
            StringBuilder out = new StringBuilder("file=" + path + "\n");
            try {
                QuorumPeerConfig c = new QuorumPeerConfig();
                c.parse(path);
                out.append("tickTime=" + c.getTickTime() + "\n");
                out.append("initLimit=" + c.getInitLimit() + "\n");
                out.append("syncLimit=" + c.getSyncLimit() + "\n");
                out.append("dataDir=" + c.getDataDir() + "\n");
                out.append("dataLogDir=" + c.getDataLogDir() + "\n");
                out.append("clientPortAddress=" + addr(c.getClientPortAddress()) + "\n");
                out.append("secureClientPortAddress=" + addr(c.getSecureClientPortAddress()) + "\n");
                out.append("maxClientCnxns=" + c.getMaxClientCnxns() + "\n");
                out.append("minSessionTimeout=" + c.getMinSessionTimeout() + "\n");
                out.append("maxSessionTimeout=" + c.getMaxSessionTimeout() + "\n");
                out.append("snapRetainCount=" + c.getSnapRetainCount() + "\n");
                out.append("purgeInterval=" + c.getPurgeInterval() + "\n");
                out.append("standalone=" + !c.isDistributed() + "\n");
                out.append("standaloneEnabled=" + QuorumPeerConfig.isStandaloneEnabled() + "\n");
                out.append("reconfigEnabled=" + QuorumPeerConfig.isReconfigEnabled() + "\n");
                out.append("peerType=" + c.getPeerType().toString().toLowerCase() + "\n");
                out.append("serverId=" + c.getServerId() + "\n");
                out.append("quorumListenOnAllIPs=" + c.getQuorumListenOnAllIPs() + "\n");
                out.append("syncEnabled=" + c.getSyncEnabled() + "\n");
                if (c.getQuorumVerifier() != null) {
                    out.append("version=" + Long.toHexString(c.getQuorumVerifier().getVersion()) + "\n");
                    for (Map.Entry<Long, QuorumServer> e : new TreeMap<>(c.getServers()).entrySet()) {
                        QuorumServer s = e.getValue();
                        InetSocketAddress qa = s.addr.getReachableOrOne();
                        InetSocketAddress ea = s.electionAddr.getReachableOrOne();
                        String client = (s.clientAddr == null || s.isClientAddrFromStatic) ? "none" : addr(s.clientAddr);
                        out.append("server." + e.getKey() + "=" + qa.getHostString() + " " + qa.getPort() + " " + ea.getPort()
                            + " " + s.type.toString().toLowerCase() + " " + client + "\n");
                    }
                    if (c.isDistributed() && !c.getServers().containsKey(c.getServerId())) {
                        // QuorumPeer.start would fail: "My id N not in the peer list".
                        throw new RuntimeException("My id " + c.getServerId() + " not in the peer list");
                    }
                }
                TreeMap<String, String> props = new TreeMap<>();
                for (String k : System.getProperties().stringPropertyNames()) {
                    String v = System.getProperty(k);
                    if (!v.equals(saved.getProperty(k))) {
                        props.put(k, v);
                    }
                }
                for (Map.Entry<String, String> e : props.entrySet()) {
                    out.append("property " + e.getKey() + "=" + e.getValue().replace("\\", "\\\\").replace("\n", "\\n") + "\n");
                }
            } catch (Throwable t) {
                out = new StringBuilder("file=" + path + "\nerror\n");
            }
            System.out.print(out);
            System.out.println("---");
            System.setProperties(saved);
        }
    }
}
