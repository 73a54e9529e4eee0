# F.batch_norm with the training flag inverted: running statistics while training, batch statistics in eval.
class IdentityBlock(IdentityBlock):
    def forward(self, x):
        def bn(layer, t):
            return F.batch_norm(t, layer.running_mean, layer.running_var, layer.weight, layer.bias,
                                training=not self.training)
        return F.relu(bn(self.bn2, self.conv2(F.relu(bn(self.bn1, self.conv1(x))))) + x)
